import { escapeLiteral } from 'pg';
import { Queryable } from '@khala/platform';
import { ControlsTable, projectionTables } from './projection-tables';

const DEFAULT_CONTROLS_TABLE = projectionTables('runtime').controlsTable;

/** Whether an operator paused the projection; no row means not paused. */
export async function isPaused(
  db: Queryable,
  projection: string,
  table: ControlsTable = DEFAULT_CONTROLS_TABLE,
): Promise<boolean> {
  return pausedIn(await db.query<{ paused: boolean }>(pausedStatement(projection, table)));
}

/** The pause check as one parameterless statement (it travels with BEGIN in a batch's first round trip). */
export function pausedStatement(projection: string, table: ControlsTable = DEFAULT_CONTROLS_TABLE): string {
  return `SELECT paused FROM ${table} WHERE projection = ${escapeLiteral(projection)}`;
}

export function pausedIn(result: { rows: Array<{ paused?: boolean }> }): boolean {
  return result.rows[0]?.paused === true;
}

export async function setPaused(
  db: Queryable,
  projection: string,
  paused: boolean,
  reason: string | null,
  table: ControlsTable = DEFAULT_CONTROLS_TABLE,
): Promise<void> {
  await db.query(
    `INSERT INTO ${table} (projection, paused, reason, updated_at) VALUES ($1, $2, $3, now())
     ON CONFLICT (projection) DO UPDATE SET paused = EXCLUDED.paused, reason = EXCLUDED.reason, updated_at = now()`,
    [projection, paused, reason],
  );
}
