import { Position } from '@khala/eventstore';
import { Queryable } from '@khala/platform';

export interface StoredCheckpoint {
  version: number;
  position: Position;
}

/** Each app keeps checkpoints in its own schema (INV-04); runtime's table is the default. */
export const DEFAULT_CHECKPOINT_TABLE = 'runtime.projection_checkpoints';
export type CheckpointTable = 'runtime.projection_checkpoints' | 'control.projection_checkpoints';

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
  return row && { version: row.version, position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } };
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
