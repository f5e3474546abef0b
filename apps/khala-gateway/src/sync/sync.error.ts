export type SyncErrorCode =
  | 'bad_topic'
  | 'bad_frame'
  | 'not_joined'
  | 'unknown_event'
  | 'bad_subscription'
  | 'forbidden_topic'
  | 'stale_cursor'
  | 'rate_limited'
  | 'reauth_required'
  | 'internal';

/** The gateway's one error type; its payload is what the client receives in an error reply. */
export class SyncError extends Error {
  constructor(
    readonly code: SyncErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toPayload(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.extra };
  }
}
