import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AuthError } from './auth.error';
import {
  ACCESS_AUDIENCE,
  CLAIMS_VERSION,
  CLOCK_SKEW_SECONDS,
  findMistypedClaim,
  Principal,
  SYNC_AUDIENCE,
  SyncPrincipal,
  TOKEN_ISSUER,
} from './claims';
import { KeyRing, SigningKey } from './key-ring';

export interface TokenSubject {
  userId: string;
  orgId: string;
  sessionId: string;
  deviceId: string;
}

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  kid: string;
}

/** A token whose signature and claims were verified once: its payload, and the key that verified it. */
interface VerifiedToken {
  payload: Record<string, unknown>;
  key: SigningKey;
  exp: number;
  nbf: number;
}

/** Verified tokens kept per process (a client sends the same token with every request until it expires). */
const VERIFIED_CACHE_ENTRIES = 10_000;

/** Mints and verifies access and sync JWTs (HS256 with kid). Verification is local: no call to control. */
export class TokenService {
  /**
   * Per audience: token string → what verifying it produced. A token is immutable, so its
   * signature and claim checks have one answer; only time and the key ring can change it, and
   * both are re-checked on every hit (exp/nbf against now with the same skew, the kid still in the
   * ring with the same secret). Only successes are kept; revocation is the caller's, as before.
   */
  private readonly verified = new Map<string, Map<string, VerifiedToken>>();

  constructor(
    private readonly keys: KeyRing,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  issueAccessToken(subject: TokenSubject, ttlSeconds: number): Promise<IssuedToken> {
    return this.issue(subject, ACCESS_AUDIENCE, ttlSeconds, {});
  }

  issueSyncToken(subject: TokenSubject, scopes: string[], ttlSeconds: number): Promise<IssuedToken> {
    return this.issue(subject, SYNC_AUDIENCE, ttlSeconds, { oa_sync_scopes: scopes });
  }

  async verifyAccessToken(token: string | undefined): Promise<Principal> {
    const payload = await this.verify(token, ACCESS_AUDIENCE, false);
    return toPrincipal(payload);
  }

  async verifySyncToken(token: string | undefined): Promise<SyncPrincipal> {
    const payload = await this.verify(token, SYNC_AUDIENCE, true);
    return { ...toPrincipal(payload), scopes: [...(payload.oa_sync_scopes as string[])] };
  }

  private async issue(
    subject: TokenSubject,
    audience: string,
    ttlSeconds: number,
    extra: Record<string, unknown>,
  ): Promise<IssuedToken> {
    const key = this.keys.current;
    const issuedAt = this.now();
    const jti = randomUUID();
    const token = await new SignJWT({
      oa_user_id: subject.userId,
      oa_org_id: subject.orgId,
      oa_session_id: subject.sessionId,
      oa_device_id: subject.deviceId,
      oa_claims_version: CLAIMS_VERSION,
      ...extra,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(audience)
      .setSubject(subject.userId)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds)
      .setJti(jti)
      .sign(key.secret);
    return { token, jti, issuedAt, expiresAt: issuedAt + ttlSeconds, kid: key.kid };
  }

  private async verify(token: string | undefined, audience: string, sync: boolean): Promise<Record<string, unknown>> {
    if (!token) throw new AuthError('missing_token', 'a bearer token is required');
    let cache = this.verified.get(audience);
    if (!cache) this.verified.set(audience, (cache = new Map()));
    const hit = cache.get(token);
    if (hit) {
      const now = this.now();
      const stillValid = hit.exp > now - CLOCK_SKEW_SECONDS && hit.nbf <= now + CLOCK_SKEW_SECONDS;
      const kid = hit.key.kid;
      if (stillValid && this.keys.find(kid) === hit.key) return hit.payload;
      // Expired, not yet valid or its key retired: forget it and verify from scratch (for the exact error).
      cache.delete(token);
    }
    const { payload, key } = await this.verifyUncached(token, audience, sync);
    if (cache.size >= VERIFIED_CACHE_ENTRIES) cache.clear();
    cache.set(token, { payload, key, exp: payload.exp as number, nbf: payload.nbf as number });
    return payload;
  }

  private async verifyUncached(token: string, audience: string, sync: boolean): Promise<{ payload: Record<string, unknown>; key: SigningKey }> {
    let kid: string | undefined;
    let alg: string | undefined;
    try {
      ({ kid, alg } = decodeProtectedHeader(token));
    } catch {
      throw new AuthError('invalid_token', 'token is not a well-formed JWT');
    }
    // Only HS256: `alg: none` and algorithm-confusion tokens are refused before any key lookup.
    if (alg !== 'HS256') throw new AuthError('invalid_token', 'unsupported token algorithm');
    const key = kid ? this.keys.find(kid) : undefined;
    if (!key) throw new AuthError('unknown_kid', 'token signing key is not known');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key.secret, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience,
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(this.now() * 1000),
        requiredClaims: ['iss', 'aud', 'sub', 'iat', 'nbf', 'exp', 'jti'],
      }));
    } catch (error) {
      throw mapJoseError(error);
    }
    const mistyped = findMistypedClaim(payload, sync);
    if (mistyped) throw new AuthError('claim_mismatch', `claim ${mistyped} is missing or has the wrong type`);
    if (payload.oa_claims_version !== CLAIMS_VERSION) throw new AuthError('claim_mismatch', 'unsupported claims version');
    if (payload.sub !== payload.oa_user_id) throw new AuthError('claim_mismatch', 'sub does not match oa_user_id');
    return { payload, key };
  }
}

function mapJoseError(error: unknown): AuthError {
  if (error instanceof joseErrors.JWTExpired) return new AuthError('token_expired', 'token has expired');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new AuthError('invalid_signature', 'token signature is invalid');
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new AuthError('claim_mismatch', `token claim ${error.claim} is not acceptable`);
  }
  return new AuthError('invalid_token', 'token is invalid');
}

function toPrincipal(payload: Record<string, unknown>): Principal {
  return {
    userId: payload.oa_user_id as string,
    orgId: payload.oa_org_id as string,
    sessionId: payload.oa_session_id as string,
    deviceId: payload.oa_device_id as string,
    tokenId: payload.jti as string,
    expiresAt: payload.exp as number,
  };
}
