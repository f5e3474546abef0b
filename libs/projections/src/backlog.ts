import { comparePositions, EventFilter, EventStore, PostgresEventStore, Position } from '@khala/eventstore';
import { Queryable } from '@khala/platform';

export interface Backlog {
  /** Matching events after the checkpoint and at or below the head, counted up to `cap`. */
  events: number;
  /** Seconds since the oldest of them was written; 0 when there is none. */
  ageSeconds: number;
}

/**
 * How far a projection is behind the store head. On the Postgres store it counts with one capped
 * index scan; on other stores it reads through the port (with a smaller cap, as it reads data).
 */
export async function measureBacklog(
  store: EventStore,
  db: Queryable,
  filter: EventFilter,
  checkpoint: Position | undefined,
  now = Date.now(),
): Promise<Backlog> {
  const head = await store.headPosition();
  if (!head || (checkpoint && comparePositions(checkpoint, head) >= 0)) return { events: 0, ageSeconds: 0 };
  let oldest: Date | undefined;
  for await (const event of store.readAll({ fromPosition: checkpoint ?? 'start', filter, maxCount: 1 })) oldest = event.created;
  if (!oldest) return { events: 0, ageSeconds: 0 };
  const events =
    store instanceof PostgresEventStore ? await countInPostgres(db, filter, checkpoint, head, 1_000_000) : await countThroughPort(store, filter, checkpoint, 10_000);
  return { events, ageSeconds: Math.max(0, (now - oldest.getTime()) / 1000) };
}

async function countInPostgres(db: Queryable, filter: EventFilter, after: Position | undefined, head: Position, cap: number): Promise<number> {
  const params: unknown[] = [after?.commit.toString() ?? '0', after?.prepare.toString() ?? '0', head.commit.toString(), head.prepare.toString()];
  const clauses: string[] = [];
  const categories = (filter.streamPrefixes ?? []).filter((p) => p.endsWith('-') && p.indexOf('-') === p.length - 1).map((p) => p.slice(0, -1));
  const prefixes = (filter.streamPrefixes ?? []).filter((p) => !(p.endsWith('-') && p.indexOf('-') === p.length - 1));
  const prefixClauses: string[] = [];
  if (categories.length) {
    params.push(categories);
    prefixClauses.push(`category = ANY($${params.length}::text[])`);
  }
  if (prefixes.length) {
    params.push(prefixes.map((p) => p.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'));
    prefixClauses.push(`stream_id LIKE ANY($${params.length}::text[])`);
  }
  if (prefixClauses.length) clauses.push(`(${prefixClauses.join(' OR ')})`);
  if (filter.eventTypes?.length) {
    params.push(filter.eventTypes);
    clauses.push(`event_type = ANY($${params.length}::text[])`);
  }
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (
       SELECT 1 FROM eventstore.events
        WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint)
          ${clauses.map((c) => `AND ${c}`).join(' ')}
        LIMIT ${cap}) AS backlog`,
    params,
  );
  return Number(rows[0].n);
}

async function countThroughPort(store: EventStore, filter: EventFilter, after: Position | undefined, cap: number): Promise<number> {
  let n = 0;
  for await (const _event of store.readAll({ fromPosition: after ?? 'start', filter, maxCount: cap })) n += 1;
  return n;
}
