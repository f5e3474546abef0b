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

/** The WHERE clause of the backlog between `after` and `head` for `filter`, with its parameters. */
function backlogWhere(filter: EventFilter, after: Position | undefined, head: Position): { where: string; params: unknown[] } {
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
  const where = `(transaction_id, position) > ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint)
          ${clauses.map((c) => `AND ${c}`).join(' ')}`;
  return { where, params };
}

async function countInPostgres(db: Queryable, filter: EventFilter, after: Position | undefined, head: Position, cap: number): Promise<number> {
  const { where, params } = backlogWhere(filter, after, head);
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM eventstore.events WHERE ${where} LIMIT ${cap}) AS backlog`, params);
  return Number(rows[0].n);
}

async function countThroughPort(store: EventStore, filter: EventFilter, after: Position | undefined, cap: number): Promise<number> {
  let n = 0;
  for await (const _event of store.readAll({ fromPosition: after ?? 'start', filter, maxCount: cap })) n += 1;
  return n;
}

/** One tenant's share of a projection's backlog. */
export interface TenantBacklog {
  tenant: string;
  events: number;
  ageSeconds: number;
}

/** Events of the backlog looked at per measurement: the oldest ones, the ones that are late. */
export const TENANT_BACKLOG_SAMPLE = 10_000;
/** The same through the port (EventStoreDB), where each event is read with its data over the network. */
const TENANT_BACKLOG_SAMPLE_THROUGH_PORT = 1_000;
/** Tenants reported per projection: the ones with the most events in the sample. */
export const TENANT_LAG_TOP_N = 10;

/**
 * Which tenants (orgs, from each event's `org_id`) the backlog belongs to, for the tenant lag series:
 * the TENANT_LAG_TOP_N tenants with the most events among the oldest TENANT_BACKLOG_SAMPLE unprojected
 * ones. Bounded twice: the scan (a lagging projection is exactly when the database is busy) and the
 * number of label values (a tenant gets a series only while it is among the most behind).
 */
export async function measureTenantBacklog(
  store: EventStore,
  db: Queryable,
  filter: EventFilter,
  checkpoint: Position | undefined,
  now = Date.now(),
): Promise<TenantBacklog[]> {
  const head = await store.headPosition();
  if (!head || (checkpoint && comparePositions(checkpoint, head) >= 0)) return [];
  if (store instanceof PostgresEventStore) {
    const { where, params } = backlogWhere(filter, checkpoint, head);
    const { rows } = await db.query<{ tenant: string | null; n: string; oldest: Date }>(
      `SELECT tenant, count(*) AS n, min(created_at) AS oldest FROM (
         SELECT data->>'org_id' AS tenant, created_at FROM eventstore.events WHERE ${where}
          ORDER BY transaction_id, position LIMIT ${TENANT_BACKLOG_SAMPLE}) AS sample
        GROUP BY tenant ORDER BY n DESC, tenant LIMIT ${TENANT_LAG_TOP_N}`,
      params,
    );
    return rows.map((row) => ({ tenant: row.tenant ?? 'none', events: Number(row.n), ageSeconds: ageOf(new Date(row.oldest), now) }));
  }
  const tally = new Map<string, { events: number; oldest: Date }>();
  for await (const event of store.readAll({ fromPosition: checkpoint ?? 'start', filter, maxCount: TENANT_BACKLOG_SAMPLE_THROUGH_PORT })) {
    const tenant = typeof event.data.org_id === 'string' ? event.data.org_id : 'none';
    const entry = tally.get(tenant);
    if (entry) entry.events += 1;
    else tally.set(tenant, { events: 1, oldest: event.created });
  }
  return [...tally]
    .sort(([a, x], [b, y]) => y.events - x.events || a.localeCompare(b))
    .slice(0, TENANT_LAG_TOP_N)
    .map(([tenant, { events, oldest }]) => ({ tenant, events, ageSeconds: ageOf(oldest, now) }));
}

function ageOf(oldest: Date, now: number): number {
  return Math.max(0, (now - oldest.getTime()) / 1000);
}
