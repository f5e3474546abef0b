import { randomUUID } from 'node:crypto';

/** Opaque ids with a readable prefix (`user_…`, `org_…`, `ses_…`, `dev_…`, `tok_…`). */
export function newId(prefix: 'user' | 'org' | 'ses' | 'dev' | 'tok'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '')}`;
}

export const userStream = (userId: string) => `user-${userId}`;
export const orgStream = (orgId: string) => `org-${orgId}`;
export const sessionStream = (sessionId: string) => `session-${sessionId}`;
export const apiTokenStream = (tokenId: string) => `apiToken-${tokenId}`;
