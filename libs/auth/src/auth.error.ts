import { DomainError, ErrorKind } from '@khala/platform';

export type AuthErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'unknown_kid'
  | 'invalid_signature'
  | 'claim_mismatch'
  | 'session_revoked'
  | 'token_revoked'
  | 'insufficient_scope';

/**
 * Every token failure is a 401 with a code that says which check failed (never the token); a valid
 * token that lacks the scope a route needs is a 403 insufficient_scope.
 */
export class AuthError extends DomainError {
  readonly kind: ErrorKind;
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    details?: unknown,
  ) {
    super(message, details);
    this.kind = code === 'insufficient_scope' ? 'forbidden' : 'unauthenticated';
  }
}
