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
 * Advisory lock key (two int4s, shown in pg_locks as classid/objid): "KH", appenders. Appenders
 * take it shared before their first write inside eventstore.append_events (migrations/0010),
 * which also refuses a transaction that already has an xid (it may have been passed already).
 */
const LOCK_CLASS = 0x4b48;
const LOCK_APPENDERS = 1;
const XID_EPOCH = 4294967296n;
const HALF_EPOCH = XID_EPOCH / 2n;

/**
 * Must be its own statement, before the statement that reads events up to it: its snapshot is
 * taken first and pg_locks is scanned after, which is the order the safety argument needs.
 */
export async function commitHorizon(db: Queryable): Promise<bigint> {
  const { rows } = await db.query<{ xmax: string; xids: string[] | null }>(
    `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
            (SELECT array_agg(own.transactionid::text)
               FROM pg_locks announced
               JOIN pg_locks own ON own.pid = announced.pid AND own.locktype = 'transactionid'
                                AND own.mode = 'ExclusiveLock' AND own.granted
              WHERE announced.locktype = 'advisory' AND announced.granted
                AND announced.classid = $1 AND announced.objid = $2 AND announced.objsubid = 2
                AND announced.database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS xids`,
    [LOCK_CLASS, LOCK_APPENDERS],
  );
  const xmax = BigInt(rows[0].xmax);
  let horizon = xmax;
  for (const xid of rows[0].xids ?? []) {
    const full = widenXid(BigInt(xid), xmax);
    // An appender that got its xid after our snapshot is at or above xmax: already excluded.
    if (full !== undefined && full < horizon) horizon = full;
  }
  return horizon;
}

/**
 * pg_locks shows 32-bit xids; place one in the epoch within 2^31 of xmax (xids that far apart
 * cannot both be live). Undefined for an xid at or above xmax, which bounds nothing.
 */
export function widenXid(xid32: bigint, xmax: bigint): bigint | undefined {
  let full = (xmax / XID_EPOCH) * XID_EPOCH + xid32;
  if (full > xmax + HALF_EPOCH) full -= XID_EPOCH;
  else if (full < xmax - HALF_EPOCH) full += XID_EPOCH;
  return full >= 0n && full < xmax ? full : undefined;
}
