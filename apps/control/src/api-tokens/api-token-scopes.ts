/** What a personal API token may be used for; recorded on the token (enforcement: see README). */
export const API_TOKEN_SCOPES = ['runtime:read', 'runtime:write', 'sync:read'] as const;
export type ApiTokenScope = (typeof API_TOKEN_SCOPES)[number];
