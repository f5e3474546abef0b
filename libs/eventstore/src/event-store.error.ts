export type EventStoreErrorCode = 'WRONG_EXPECTED_VERSION' | 'STREAM_NOT_FOUND' | 'UNAVAILABLE' | 'INVALID_ARGUMENT';

export type ActualRevision = bigint | 'no_stream';

/** The one error type of the event store port; the HTTP layer maps WRONG_EXPECTED_VERSION to 409. */
export class EventStoreError extends Error {
  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    readonly details: { stream?: string; expected?: string; actual?: ActualRevision } = {},
  ) {
    super(message);
    this.name = 'EventStoreError';
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
