import { DomainError, ErrorKind } from '@khala/platform';

export type EventStoreErrorCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_NOT_FOUND'
  | 'UNAVAILABLE'
  | 'INVALID_ARGUMENT'
  /** The append is over the store's size limit (EventStoreDB's MaxAppendSize). */
  | 'APPEND_TOO_LARGE'
  /** The store refused this app's credentials for the stream (EventStoreDB ACLs). */
  | 'ACCESS_DENIED'
  /** The stream was deleted (tombstoned): it takes no more events. */
  | 'STREAM_DELETED';

export type ActualRevision = bigint | 'no_stream';

export interface EventStoreErrorDetails {
  stream?: string;
  expected?: string;
  actual?: ActualRevision;
  /** APPEND_TOO_LARGE: the store's limit in bytes. */
  maxAppendSize?: number;
  /** UNAVAILABLE: why (`deadline_exceeded`, `not_leader`, `unreachable`, `discovery_failed`, `not_authenticated`). */
  reason?: string;
}

const KINDS: Record<EventStoreErrorCode, ErrorKind> = {
  WRONG_EXPECTED_VERSION: 'conflict',
  STREAM_NOT_FOUND: 'not_found',
  UNAVAILABLE: 'unavailable',
  INVALID_ARGUMENT: 'invalid',
  APPEND_TOO_LARGE: 'too_large',
  // The store's ACLs or stream policies do not let this app write (or read) that stream: the
  // EventStoreDB side of the row-level security that keeps control and runtime apart (INV-04/05).
  // Bad credentials are not this: they are UNAVAILABLE with reason not_authenticated.
  ACCESS_DENIED: 'forbidden',
  STREAM_DELETED: 'conflict',
};

/**
 * The one error type of the event store port. It is a DomainError, so whatever reaches a
 * transport unhandled is answered by its kind (413 too large, 503 unavailable, …), never a 500.
 */
export class EventStoreError extends DomainError {
  readonly kind: ErrorKind;
  override readonly details: EventStoreErrorDetails;

  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    details: EventStoreErrorDetails = {},
  ) {
    super(message);
    this.name = 'EventStoreError';
    this.kind = KINDS[code];
    // Revisions are bigints, which JSON cannot carry; an error body gets them as strings.
    this.details = Object.defineProperty({ ...details }, 'toJSON', {
      enumerable: false,
      value: () => ({ ...details, actual: details.actual === undefined ? undefined : String(details.actual) }),
    });
  }

  static wrongExpectedVersion(stream: string, expected: string, actual: ActualRevision): EventStoreError {
    return new EventStoreError(
      'WRONG_EXPECTED_VERSION',
      `stream ${stream}: expected revision ${expected}, actual ${String(actual)}`,
      { stream, expected, actual },
    );
  }

  static streamNotFound(stream: string): EventStoreError {
    return new EventStoreError('STREAM_NOT_FOUND', `stream ${stream} not found`, { stream });
  }
}

export function isWrongExpectedVersion(error: unknown): error is EventStoreError {
  return error instanceof EventStoreError && error.code === 'WRONG_EXPECTED_VERSION';
}
