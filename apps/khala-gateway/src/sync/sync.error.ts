import { DomainError, ErrorKind } from '@khala/platform';

/**
 * Codes a client can receive in an error reply or a `sync:error` push (docs/protocol/README.md §2, §4,
 * §7, §9). bad_frame, frame_too_large, not_joined and unknown_event are the gateway's answers to
 * frames the protocol does not define.
 */
export type SyncErrorCode =
  | 'bad_topic'
  | 'bad_frame'
  | 'frame_too_large'
  | 'not_joined'
  | 'unknown_event'
  | 'bad_subscription'
  | 'forbidden_topic'
  | 'stale_cursor'
  | 'rate_limited'
  | 'reauth_required'
  | 'token_expired'
  | 'slow_consumer'
  | 'internal';

const KINDS: Record<SyncErrorCode, ErrorKind> = {
  bad_topic: 'invalid',
  bad_frame: 'invalid',
  frame_too_large: 'too_large',
  not_joined: 'rule_violation',
  unknown_event: 'invalid',
  bad_subscription: 'invalid',
  forbidden_topic: 'forbidden',
  stale_cursor: 'rule_violation',
  rate_limited: 'rate_limited',
  reauth_required: 'unauthenticated',
  token_expired: 'unauthenticated',
  slow_consumer: 'unavailable',
  internal: 'unavailable',
};

/** The gateway's one error type; its payload is what the client receives. */
export class SyncError extends DomainError {
  readonly kind: ErrorKind;

  constructor(
    readonly code: SyncErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.kind = KINDS[code];
  }

  toPayload(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.extra };
  }
}
