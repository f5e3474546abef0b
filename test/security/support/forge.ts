import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ACCESS_AUDIENCE, CLAIMS_VERSION, SYNC_AUDIENCE, TOKEN_ISSUER } from '@khala/auth';

/** Hand-built JWTs for attacks the real TokenService would never mint. */
export const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

export interface ForgeOptions {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** HMAC key; omit for an unsigned token (empty signature). */
  secret?: Uint8Array;
}

export interface Subject {
  userId: string;
  orgId: string;
  sessionId: string;
  deviceId: string;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The claims a genuine token of `kind` carries for `subject`. */
export function genuineClaims(subject: Subject, kind: 'access' | 'sync', scopes: string[] = ['runtime.run_summaries']) {
  const iat = nowSeconds();
  return {
    iss: TOKEN_ISSUER,
    aud: kind === 'access' ? ACCESS_AUDIENCE : SYNC_AUDIENCE,
    sub: subject.userId,
    iat,
    nbf: iat,
    exp: iat + 300,
    jti: randomUUID(),
    oa_user_id: subject.userId,
    oa_org_id: subject.orgId,
    oa_session_id: subject.sessionId,
    oa_device_id: subject.deviceId,
    oa_claims_version: CLAIMS_VERSION,
    ...(kind === 'sync' ? { oa_sync_scopes: scopes } : {}),
  };
}

export function signingInput(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
}

export function hs256(input: string, secret: Uint8Array): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

export function forge({ header = {}, claims = {}, secret }: ForgeOptions): string {
  const input = signingInput({ alg: 'HS256', typ: 'JWT', ...header }, claims);
  return `${input}.${secret ? hs256(input, secret) : ''}`;
}

/** Replaces one part (0 header, 1 payload, 2 signature) of a compact JWT, keeping the others. */
export function replacePart(token: string, index: 0 | 1 | 2, part: string): string {
  const parts = token.split('.');
  parts[index] = part;
  return parts.join('.');
}

export const decodePart = (token: string, index: 0 | 1) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString()) as Record<string, unknown>;

export const randomSecret = () => randomBytes(32);
