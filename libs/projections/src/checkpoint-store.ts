import { Position } from '@khala/eventstore';
import { escapeLiteral } from 'pg';
import { Queryable } from '@khala/platform';
import { CheckpointTable, projectionTables } from './projection-tables';

export interface StoredCheckpoint {
  version: number;
  position: Position;
}

/** Each app keeps checkpoints in its own schema (INV-04); runtime's table is the default. */
export const DEFAULT_CHECKPOINT_TABLE: CheckpointTable = projectionTables('runtime').checkpointTable;

export async function loadCheckpoint(
  db: Queryable,
  projection: string,
  table: CheckpointTable = DEFAULT_CHECKPOINT_TABLE,
): Promise<StoredCheckpoint | undefined> {
  const { rows } = await db.query<{ version: number; commit_position: string; prepare_position: string }>(
    `SELECT version, commit_position, prepare_position FROM ${table} WHERE projection = $1`,
    [projection],
  );
  const row = rows[0];
  return (
    row && {
      version: row.version,
      position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
    }
  );
}

/** Stored in the batch transaction, so the checkpoint never runs ahead of (or behind) the writes. */
export async function saveCheckpoint(
  tx: Queryable,
  projection: string,
  version: number,
  position: Position,
  table: CheckpointTable = DEFAULT_CHECKPOINT_TABLE,
): Promise<void> {
  await tx.query(
    `INSERT INTO ${table} (projection, version, commit_position, prepare_position, updated_at)
     VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (projection) DO UPDATE
       SET version = EXCLUDED.version, commit_position = EXCLUDED.commit_position,
           prepare_position = EXCLUDED.prepare_position, updated_at = now()`,
    [projection, version, position.commit.toString(), position.prepare.toString()],
  );
}

/**
 * Compare-and-set of the checkpoint, the batch's fence: it succeeds only if the stored position is
 * still the one this runner last committed (`expected`, undefined when there was no row). It runs
 * first in the batch transaction, so its row lock orders any two writers of one projection, and
 * the loser sees a moved checkpoint, writes nothing and steps down. Returns false when fenced out.
 */
export async function advanceCheckpoint(
  tx: Queryable,
  projection: string,
  version: number,
  expected: Position | undefined,
  next: Position,
  table: CheckpointTable = DEFAULT_CHECKPOINT_TABLE,
): Promise<boolean> {
  return fenceSucceeded(await tx.query(checkpointFenceStatement(projection, version, expected, next, table)));
}

/**
 * The fence as one statement with its values quoted in (no parameters), so it can travel with
 * BEGIN in the batch's first round trip. Every value is a number or a projection name.
 */
export function checkpointFenceStatement(
  projection: string,
  version: number,
  expected: Position | undefined,
  next: Position,
  table: CheckpointTable = DEFAULT_CHECKPOINT_TABLE,
): string {
  const [name, commit, prepare] = [
    escapeLiteral(projection),
    sqlBigint(next.commit),
    sqlBigint(next.prepare),
  ];
  return expected
    ? `UPDATE ${table} SET version = ${Number(version)}, commit_position = ${commit}, prepare_position = ${prepare}, updated_at = now()
        WHERE projection = ${name} AND commit_position = ${sqlBigint(expected.commit)} AND prepare_position = ${sqlBigint(expected.prepare)}`
    : `INSERT INTO ${table} (projection, version, commit_position, prepare_position, updated_at)
       VALUES (${name}, ${Number(version)}, ${commit}, ${prepare}, now()) ON CONFLICT (projection) DO NOTHING`;
}

export function fenceSucceeded(result: { rowCount: number | null }): boolean {
  return result.rowCount === 1;
}

const sqlBigint = (value: bigint) => BigInt(value).toString();
