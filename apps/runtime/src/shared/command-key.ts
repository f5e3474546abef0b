import { randomUUID } from 'node:crypto';
import { deterministicEventId } from '@khala/eventstore';

/**
 * The key a command's event ids derive from. With an Idempotency-Key it is stable across retries
 * (scoped by org and by what the command is, since event ids are unique store-wide); without one
 * every request is new.
 */
export function commandKey(scope: string, orgId: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? `${scope}:${orgId}:${idempotencyKey}` : `${scope}:${randomUUID()}`;
}

/**
 * The id of a command, stored as its events' causation_id. With an Idempotency-Key it is the same
 * for every retry, so a retry can tell the events a crashed attempt of the same command stored from
 * events other requests stored (frames dedupe by frame_id across requests).
 */
export function commandId(commandKey: string): string {
  return deterministicEventId(`${commandKey}/command`, 0);
}

/** Ids of events that happen at most once per stream (a frame, the end of a run), from the stream itself. */
export function streamScopedEventId(stream: string, name: string): string {
  return deterministicEventId(`${stream}/${name}`, 0);
}

/** Ids the routes accept: plain, bounded, safe in stream names and URLs. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
