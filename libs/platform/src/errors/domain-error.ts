/**
 * What kind of failure an error is, independent of transport. Each module defines its own error
 * class with a code enum and picks a kind; the HTTP filter and the WS error mapper turn the kind
 * into a status, so nothing below a controller knows about HTTP.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rule_violation'
  | 'rate_limited'
  | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly kind: ErrorKind;
  readonly details?: unknown;
  /** For rate_limited: how long the caller should wait. */
  readonly retryAfterSeconds?: number;

  constructor(message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Errors raised by the HTTP edge itself (validation, content type, body size). */
export type RequestErrorCode =
  | 'validation_failed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'malformed_json'
  | 'not_found'
  | 'rate_limited'
  | 'storage_unavailable';

const REQUEST_ERROR_KINDS: Record<RequestErrorCode, ErrorKind> = {
  validation_failed: 'invalid',
  malformed_json: 'invalid',
  unsupported_media_type: 'unsupported_media_type',
  payload_too_large: 'too_large',
  not_found: 'not_found',
  rate_limited: 'rate_limited',
  storage_unavailable: 'unavailable',
};

export class RequestError extends DomainError {
  readonly kind: ErrorKind;
  override readonly retryAfterSeconds?: number;

  constructor(
    readonly code: RequestErrorCode,
    message: string,
    details?: unknown,
    retryAfterSeconds?: number,
  ) {
    super(message, details);
    this.kind = REQUEST_ERROR_KINDS[code];
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
