import { Queryable } from '@khala/platform';

/**
 * The commit horizon: a transaction id below which no event can still appear. Readers only read
 * events below it, ordered by (transaction_id, position), so a transaction that took a lower
 * position but commits late is waited for, never skipped.
 *
 * The textbook horizon is pg_snapshot_xmin, the oldest transaction still running anywhere in the
 * cluster; but then any long writing transaction (a migration, a batch job, another database on
 * the same server) stalls every subscriber. So appenders announce themselves with a shared
 * transaction-scoped advisory lock taken before their first write, and the horizon is the oldest
 * xid among announced appenders in this database, or the snapshot's xmax when none is in flight.
 *
 * Why it is safe: a transaction with an xid below our snapshot's xmax got that xid before the
 * snapshot; if it appends, it took the lock even earlier, so when we scan pg_locks afterwards it is
 * either listed (and bounds the horizon) or finished. Every later xid is at or above xmax.
 */

/**
 * The horizon itself is computed in the database (eventstore.commit_horizon(), migrations/0014),
 * so it can travel in one message with the read below it (`HORIZON_STATEMENT`).
 *
 * Must be its own statement, before the statement that reads events up to it: its snapshot is
 * taken first and pg_locks is scanned after, which is the order the safety argument needs.
 */
export async function commitHorizon(db: Queryable): Promise<bigint> {
  const { rows } = await db.query<{ horizon: string }>('SELECT eventstore.commit_horizon()::text AS horizon');
  return BigInt(rows[0].horizon);
}

/** Transaction-local setting through which HORIZON_STATEMENT hands the horizon to the next statement. */
export const HORIZON_SETTING = 'khala.read_horizon';

/**
 * The horizon as the first statement of a multi-statement message: it returns the horizon and keeps
 * it for the statements after it (`current_setting('khala.read_horizon')`), each of which takes
 * its own, later snapshot (read committed), as a separate statement would.
 */
export const HORIZON_STATEMENT = `SELECT set_config('${HORIZON_SETTING}', eventstore.commit_horizon()::text, true) AS horizon`;
