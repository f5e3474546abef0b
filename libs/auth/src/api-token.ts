import { createHash, randomBytes } from 'node:crypto';

/** Personal API tokens are opaque: `oa_pat_` + 256 random bits; only their hash is ever stored. */
export const API_TOKEN_PREFIX = 'oa_pat_';

/**
 * What a personal API token may be granted (recorded on the token at issue, enforced per route by
 * `@RequireScope`): read runs and workers, issue runtime commands, mint sync tokens.
 */
export const API_TOKEN_SCOPES = ['runtime:read', 'runtime:write', 'sync:read'] as const;
export type ApiTokenScope = (typeof API_TOKEN_SCOPES)[number];

export function generateApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function isApiToken(token: string): boolean {
  return token.startsWith(API_TOKEN_PREFIX);
}

/** `sha256:<hex>`: a fast hash is enough because the secret has 256 bits of entropy. */
export function hashApiToken(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}
