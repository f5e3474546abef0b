import { EventFilter, EventStore, Position, RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { tryRead } from '../event-reader';
import { Projection } from '../projection';
import { isSkipped } from '../projection-failures';
import { RebuildRefused } from './table-projection';

/**
 * Applies events to a projection in the caller's transaction, as the runner would (each event read
 * through the projection's contract first, so one it cannot read is never folded), but poison
 * events follow the projection's policy without the runner's park table: 'continue' drops them
 * (counted), 'stop' fails unless an operator already skipped the event. Savepoints keep a failed
 * attempt from aborting the transaction.
 */
export async function applyEvents(
  tx: Queryable,
  projection: Projection,
  events: readonly RecordedEvent[],
  liveName: string,
): Promise<{ dropped: RecordedEvent[] }> {
  const dropped: RecordedEvent[] = [];
  const readable: RecordedEvent[] = [];
  for (const event of events) {
    const outcome = tryRead(event, projection.readEvent);
    if (outcome.error === undefined) readable.push(outcome.event);
    else await dropOrRefuse(tx, projection, event, liveName, dropped, outcome.error.message);
  }
  if (readable.length === 0) return { dropped };
  if (await attempt(tx, () => projection.project(tx, readable))) return { dropped };
  for (const event of readable) {
    if (await attempt(tx, () => projection.project(tx, [event]))) continue;
    await dropOrRefuse(tx, projection, event, liveName, dropped);
  }
  return { dropped };
}

/** A poison event: dropped under 'continue' or once an operator skipped it, else the command fails. */
async function dropOrRefuse(
  tx: Queryable,
  projection: Projection,
  event: RecordedEvent,
  liveName: string,
  dropped: RecordedEvent[],
  reason?: string,
): Promise<void> {
  if ((projection.failurePolicy ?? 'stop') === 'stop' && !(await isSkipped(tx, liveName, event.id))) {
    throw new RebuildRefused(
      `event ${event.id} (${event.type} in ${event.stream}) cannot be projected by ${liveName}${reason ? ` (${reason})` : ''}; skip it first (oa projections skip)`,
    );
  }
  dropped.push(event);
}

async function attempt(tx: Queryable, work: () => Promise<unknown>): Promise<boolean> {
  await tx.query('SAVEPOINT apply_events');
  try {
    await work();
    await tx.query('RELEASE SAVEPOINT apply_events');
    return true;
  } catch {
    await tx.query('ROLLBACK TO SAVEPOINT apply_events');
    return false;
  }
}

/** Reads $all after `from` (exclusive), at most `max` events. */
export async function readPage(
  store: EventStore,
  filter: EventFilter,
  from: Position | undefined,
  max: number,
): Promise<RecordedEvent[]> {
  const page: RecordedEvent[] = [];
  for await (const event of store.readAll({ fromPosition: from ?? 'start', filter, maxCount: max }))
    page.push(event);
  return page;
}

export function positionText(position: Position | undefined): string | null {
  return position ? `${position.commit}/${position.prepare}` : null;
}
