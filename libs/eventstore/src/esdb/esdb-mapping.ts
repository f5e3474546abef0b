import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  eventTypeFilter,
  excludeSystemEvents,
  Filter,
  jsonEvent,
  JSONType,
  MaxAppendSizeExceededError,
  RecordedEvent as ClientRecordedEvent,
  StreamDeletedError,
  StreamNotFoundError,
  streamNameFilter,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { EventStoreError } from '../event-store.error';
import { EventFilter, EventMetadata, NewEvent, Position, RecordedEvent } from '../event-store.port';

/** EventStoreDB's filter search window when the client does not set one (see the server docs). */
export const SERVER_SEARCH_WINDOW = 32;

export function toEventData(event: NewEvent) {
  return jsonEvent({
    id: event.id,
    type: event.type,
    data: event.data as JSONType,
    metadata: event.metadata as unknown as JSONType,
  });
}

export function toRecordedEvent(event: ClientRecordedEvent): RecordedEvent {
  if (!event.position) {
    throw new EventStoreError('UNAVAILABLE', `event ${event.id} in ${event.streamId} arrived without a position`);
  }
  return {
    id: event.id,
    stream: event.streamId,
    revision: event.revision,
    position: { commit: event.position.commit, prepare: event.position.prepare },
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: event.metadata as EventMetadata,
    created: event.created,
  };
}

/** `$`-prefixed streams and types are the server's own ($stats, $metadata, links): never authority. */
export function isSystemEvent(event: ClientRecordedEvent): boolean {
  return event.streamId.startsWith('$') || event.type.startsWith('$');
}

/** The whole port filter, applied on our side (reads, and what the server filter cannot express). */
export function matchesFilter(event: { streamId: string; type: string }, filter: EventFilter | undefined): boolean {
  if (filter?.streamPrefixes?.length && !filter.streamPrefixes.some((prefix) => event.streamId.startsWith(prefix))) return false;
  if (filter?.eventTypes?.length && !filter.eventTypes.includes(event.type)) return false;
  return true;
}

/**
 * The server filters on one thing: stream prefixes when given (event types are then re-checked on
 * our side), else exact event types as an anchored regex, else "no system events". Always a filter,
 * because only filtered subscriptions send checkpoints.
 */
export function toServerFilter(
  filter: EventFilter | undefined,
  checkpointInterval: number | undefined,
  checkpointReached: (position: Position) => void,
): Filter {
  const options = {
    checkpointInterval: Math.max(1, Math.ceil((checkpointInterval ?? SERVER_SEARCH_WINDOW) / SERVER_SEARCH_WINDOW)),
    checkpointReached: (_subscription: unknown, position: Position) => checkpointReached(position),
  };
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: filter.streamPrefixes, ...options });
  if (filter?.eventTypes?.length) {
    return eventTypeFilter({ regex: `^(?:${filter.eventTypes.map(escapeRegex).join('|')})$`, ...options });
  }
  return excludeSystemEvents(options);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Client errors → the port's one error type; anything unrecognised passes through unchanged. */
export function toPortError(error: unknown, stream?: string, expected?: string): unknown {
  if (error instanceof WrongExpectedVersionError) {
    const actual = error.actualVersion === 'no_stream' ? 'no_stream' : BigInt(error.actualVersion as bigint);
    return EventStoreError.wrongExpectedVersion(stream ?? error.streamName, expected ?? String(error.expectedVersion), actual);
  }
  if (error instanceof StreamNotFoundError) return EventStoreError.streamNotFound(stream ?? error.streamName ?? '');
  if (error instanceof MaxAppendSizeExceededError) {
    return new EventStoreError('APPEND_TOO_LARGE', `append to ${stream ?? 'a stream'} is over EventStoreDB's limit of ${error.maxAppendSize} bytes`, {
      stream,
      maxAppendSize: error.maxAppendSize,
    });
  }
  if (error instanceof AccessDeniedError) {
    // The client reports bad credentials (gRPC UNAUTHENTICATED) as AccessDenied too; they are a
    // deployment fault (the app cannot use its store at all), not a refusal of this stream.
    if (grpcCodeOf(error) === GRPC_UNAUTHENTICATED) {
      return new EventStoreError('UNAVAILABLE', 'EventStoreDB unavailable (not_authenticated): the credentials in EVENTSTORE_URL were refused', {
        stream,
        reason: 'not_authenticated',
      });
    }
    return new EventStoreError('ACCESS_DENIED', `EventStoreDB denied this app access${stream ? ` to ${stream}` : ''}`, { stream });
  }
  if (error instanceof StreamDeletedError) {
    const deleted = stream ?? error.streamName;
    return new EventStoreError('STREAM_DELETED', `stream ${deleted} is deleted`, { stream: deleted });
  }
  if (error instanceof EventStoreError) return error;
  if (isTransient(error)) {
    // A deadline or a write timeout leaves the append's fate unknown; the caller retries it with
    // the same event ids, which the server deduplicates.
    const reason =
      error instanceof DeadlineExceededError || error instanceof TimeoutError
        ? 'deadline_exceeded'
        : error instanceof NotLeaderError
          ? 'not_leader'
          : isDiscoveryFailure(error)
            ? 'discovery_failed'
            : 'unreachable';
    return new EventStoreError('UNAVAILABLE', `EventStoreDB unavailable (${reason}): ${(error as Error).message}`, { stream, reason });
  }
  return error;
}

const GRPC_UNAUTHENTICATED = 16;

/**
 * `esdb+discover://` found no node it could use (none answered gossip: down, unreachable, or a TLS
 * certificate the CA file does not sign). The client throws a plain Error for it.
 */
function isDiscoveryFailure(error: unknown): boolean {
  return error instanceof Error && /^Failed to discover after \d+ attempts/.test(error.message);
}

function grpcCodeOf(error: unknown): number | undefined {
  const raw = (error as { _raw?: { code?: unknown } })._raw;
  return typeof raw?.code === 'number' ? raw.code : undefined;
}

/** Failures worth retrying (or resubscribing after): the server is unreachable, restarting, or slow. */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof CancelledError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError ||
    (error instanceof UnknownError && isBrokenCall((error as { _raw?: unknown })._raw)) ||
    isBrokenCall(error) ||
    isDiscoveryFailure(error) ||
    (error instanceof EventStoreError && error.code === 'UNAVAILABLE')
  );
}

// gRPC status codes the client library leaves as UnknownError when a server goes away mid-call:
// CANCELLED (1, a call the channel cancelled, not us), UNKNOWN (2), INTERNAL (13, RST_STREAM /
// "Stream removed"), UNAVAILABLE (14). An append cut off this way may or may not have landed; the
// caller retries it with the same event ids, which the store deduplicates.
const BROKEN_CALL_STATUS = new Set([1, 2, 13, 14]);
const BROKEN_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_GOAWAY_SESSION']);

function isBrokenCall(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') return BROKEN_CALL_STATUS.has(code) && 'details' in error;
  return typeof code === 'string' && BROKEN_SOCKET_CODES.has(code);
}
