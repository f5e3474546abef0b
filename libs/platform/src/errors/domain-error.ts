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

/**
 * The base of a module's one error type: a code of its enum, and the kind `kinds` gives that code
 * (`class RuntimeError extends codedError(KINDS) {}`), so the classes differ only in their table.
 */
export function codedError<Code extends string>(kinds: Readonly<Record<Code, ErrorKind>>) {
  return class extends DomainError {
    readonly kind: ErrorKind;
    override readonly retryAfterSeconds?: number;

    constructor(
      readonly code: Code,
      message: string,
      details?: unknown,
      retryAfterSeconds?: number,
    ) {
      super(message, details);
      this.kind = kinds[code];
      this.retryAfterSeconds = retryAfterSeconds;
    }
  };
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

export class RequestError extends codedError(REQUEST_ERROR_KINDS) {}
