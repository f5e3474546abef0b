import { RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { FailuresTable, projectionTables } from './projection-tables';

export const DEFAULT_FAILURES_TABLE: FailuresTable = projectionTables('runtime').failuresTable;

export type FailureStatus = 'parked' | 'retried' | 'skipped';

export interface ParkedFailure {
  projection: string;
  event_id: string;
  stream_id: string;
  revision: number;
  event_type: string;
  error: string;
  attempts: number;
  status: FailureStatus;
  parked_at: Date;
}

/** Records (or re-records) a poison event; runs in the transaction that moves past it, if any. */
export async function parkFailure(
  tx: Queryable,
  projection: string,
  event: RecordedEvent,
  error: unknown,
  attempts: number,
  table: FailuresTable = DEFAULT_FAILURES_TABLE,
): Promise<void> {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  await tx.query(
    `INSERT INTO ${table} AS f (projection, event_id, stream_id, revision, commit_position, prepare_position, event_type, error, attempts, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'parked')
     ON CONFLICT (projection, event_id) DO UPDATE
       SET error = EXCLUDED.error, attempts = f.attempts + EXCLUDED.attempts, parked_at = now(),
           status = CASE WHEN f.status = 'skipped' THEN f.status ELSE 'parked' END`,
    [
      projection,
      event.id,
      event.stream,
      event.revision.toString(),
      event.position.commit.toString(),
      event.position.prepare.toString(),
      event.type,
      message.slice(0, 4000),
      attempts,
    ],
  );
}

/** Whether an operator has told a 'stop' projection to move past this event. */
export async function isSkipped(db: Queryable, projection: string, eventId: string, table: FailuresTable = DEFAULT_FAILURES_TABLE): Promise<boolean> {
  const { rows } = await db.query<{ status: string }>(`SELECT status FROM ${table} WHERE projection = $1 AND event_id = $2`, [projection, eventId]);
  return rows[0]?.status === 'skipped';
}

export async function failureStatus(db: Queryable, projection: string, eventId: string, table: FailuresTable = DEFAULT_FAILURES_TABLE): Promise<FailureStatus | undefined> {
  const { rows } = await db.query<{ status: FailureStatus }>(`SELECT status FROM ${table} WHERE projection = $1 AND event_id = $2`, [projection, eventId]);
  return rows[0]?.status;
}

/** Operator decision: try the event again (a halted 'stop' projection re-attempts it; it parks again if it still fails). */
export async function markRetried(db: Queryable, projection: string, eventId: string, table: FailuresTable = DEFAULT_FAILURES_TABLE): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${table} SET status = 'retried', resolved_at = now() WHERE projection = $1 AND event_id = $2 AND status = 'parked'`,
    [projection, eventId],
  );
  return result.rowCount === 1;
}

export async function listFailures(
  db: Queryable,
  projection?: string,
  status: FailureStatus | 'all' = 'parked',
  table: FailuresTable = DEFAULT_FAILURES_TABLE,
): Promise<ParkedFailure[]> {
  const { rows } = await db.query<ParkedFailure & { revision: string }>(
    `SELECT projection, event_id, stream_id, revision, event_type, error, attempts, status, parked_at FROM ${table}
      WHERE ($1::text IS NULL OR projection = $1) AND ($2 = 'all' OR status = $2)
      ORDER BY projection, commit_position, prepare_position`,
    [projection ?? null, status],
  );
  return rows.map((row) => ({ ...row, revision: Number(row.revision) }));
}

export async function countParked(db: Queryable, projection: string, table: FailuresTable = DEFAULT_FAILURES_TABLE): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE projection = $1 AND status = 'parked'`, [projection]);
  return Number(rows[0].n);
}

/** Operator decision: the event is not to be applied. A 'stop' projection moves past it on its next attempt. */
export async function markSkipped(db: Queryable, projection: string, eventId: string, table: FailuresTable = DEFAULT_FAILURES_TABLE): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${table} SET status = 'skipped', resolved_at = now() WHERE projection = $1 AND event_id = $2 AND status = 'parked'`,
    [projection, eventId],
  );
  return result.rowCount === 1;
}
