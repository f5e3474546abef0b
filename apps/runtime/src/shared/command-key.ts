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

/** Ids of events that happen at most once per stream (a frame, the end of a run), from the stream itself. */
export function streamScopedEventId(stream: string, name: string): string {
  return deterministicEventId(`${stream}/${name}`, 0);
}

/** Ids the routes accept: plain, bounded, safe in stream names and URLs. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
