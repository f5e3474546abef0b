import { DomainError, ErrorKind } from '@khala/platform';

export type AuthErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'unknown_kid'
  | 'invalid_signature'
  | 'claim_mismatch'
  | 'session_revoked'
  | 'token_revoked';

/** Every token failure is a 401 with a code that says which check failed (never the token). */
export class AuthError extends DomainError {
  readonly kind: ErrorKind = 'unauthenticated';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}
