/** Issuer and audiences are fixed: a token minted for one purpose never passes for another. */
export const TOKEN_ISSUER = 'khala-control';
export const ACCESS_AUDIENCE = 'khala-api';
export const SYNC_AUDIENCE = 'khala-sync';
export const CLAIMS_VERSION = 1;
export const CLOCK_SKEW_SECONDS = 30;

/** Claims common to access and sync tokens; JSON types are fixed here for issuer and verifier. */
export interface BaseClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  oa_user_id: string;
  oa_org_id: string;
  oa_session_id: string;
  oa_device_id: string;
  oa_claims_version: number;
}

export type AccessTokenClaims = BaseClaims;

export interface SyncTokenClaims extends BaseClaims {
  oa_sync_scopes: string[];
}

/** Who is calling, as every app sees it after verification. */
export interface Principal {
  userId: string;
  orgId: string;
  sessionId: string;
  deviceId: string;
  tokenId: string;
  expiresAt: number;
  /** How the caller authenticated; absent means a JWT access token. */
  via?: 'access_token' | 'api_token';
  /**
   * What a personal API token may do (API_TOKEN_SCOPES). Absent for access tokens: a signed-in
   * session acts with the user's full rights.
   */
  scopes?: readonly string[];
}

export interface SyncPrincipal extends Principal {
  scopes: string[];
}

const STRING_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'oa_user_id', 'oa_org_id', 'oa_session_id', 'oa_device_id'] as const;
const INTEGER_CLAIMS = ['iat', 'nbf', 'exp', 'oa_claims_version'] as const;

/** Returns the first claim whose JSON type is wrong, or undefined when all are right. */
export function findMistypedClaim(payload: Record<string, unknown>, sync: boolean): string | undefined {
  for (const claim of STRING_CLAIMS) if (typeof payload[claim] !== 'string' || payload[claim] === '') return claim;
  for (const claim of INTEGER_CLAIMS) if (!Number.isSafeInteger(payload[claim])) return claim;
  if (sync) {
    const scopes = payload.oa_sync_scopes;
    if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) return 'oa_sync_scopes';
  }
  return undefined;
}
