import { comparePositions, EventStore, Position, RecordedEvent } from '@khala/eventstore';
import { Database, Queryable } from '@khala/platform';
import { notifyJournalAppended } from '../journal-writer';
import { projectionTables } from '../projection-tables';
import { applyEvents, positionText, readPage } from './apply-events';
import { swapIn } from './swap';
import { RebuildRefused, TableProjectionFactory } from './table-projection';

/** Rebuilds are of runtime's table projections: their live checkpoints are runtime's. */
const CHECKPOINTS = projectionTables('runtime').checkpointTable;
/** The shadow's own checkpoint, committed with each shadow batch, so an interrupted rebuild resumes. */
const REBUILDS = 'runtime.projection_rebuilds';

export interface RebuildOptions {
  reset: boolean;
  batchSize: number;
  /** Testing and operations: stop (resumably) after this many catch-up batches. */
  stopAfterBatches?: number;
  onProgress?: (events: number) => void;
  shouldStop?: () => boolean;
}

export interface RebuildResult {
  projection: string;
  status: 'swapped' | 'interrupted';
  resumed: boolean;
  events_applied: number;
  dropped_events: string[];
  changed_documents: number;
  removed_documents: number;
  journal_rows: number;
  reset_topics: number;
  checkpoint: string | null;
}

const TAIL_MOVED = Symbol('tail moved');

async function retryUntil<T>(attempt: () => Promise<T | typeof TAIL_MOVED>): Promise<T> {
  for (;;) {
    const result = await attempt();
    if (result !== TAIL_MOVED) return result;
  }
}

/** Table names without schema: run_summaries → khala_rebuild.run_summaries__rebuild. */
export function shadowTableOf(liveTable: string): string {
  return `khala_rebuild.${liveTable.split('.')[1]}__rebuild`;
}

/**
 * Where an unfinished rebuild of `name` will resume (undefined: from the start), so a caller can
 * size its progress bar before starting.
 */
export async function rebuildResumePoint(db: Queryable, name: string): Promise<Position | undefined> {
  const { rows } = await db.query<{
    commit_position: string | null;
    prepare_position: string | null;
    status: string;
  }>(`SELECT commit_position, prepare_position, status FROM ${REBUILDS} WHERE projection = $1`, [name]);
  const row = rows[0];
  return row?.status === 'building' && row.commit_position !== null
    ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position!) }
    : undefined;
}

/**
 * Blue/green rebuild of one runtime table projection. The shadow is built from the start of the
 * store with its own checkpoint (runtime.projection_rebuilds, committed with each shadow batch, so
 * an interrupted rebuild resumes), while the live projector keeps serving and consuming. When the
 * shadow has read up to the store head, ONE transaction locks the live checkpoint row (the runner's
 * batch fence: a live batch waits, then either continues on top of the swapped rows or, if the
 * checkpoint moved, steps down and reloads), projects the tail, journals each document whose hash
 * differs (or, with reset, moves retained_from past the head), upserts the differences into the
 * live table and moves the live checkpoint.
 */
export async function rebuildProjection(
  store: EventStore,
  db: Database,
  projection: TableProjectionFactory,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const live = projection();
  const name = live.name;
  const liveTable = live.model.table;
  const shadowTable = shadowTableOf(liveTable);
  const shadow = projection({ table: shadowTable, journal: false });
  const filter = live.filter;

  const state = await db.query<{
    version: number;
    commit_position: string | null;
    prepare_position: string | null;
    status: string;
    events_applied: string;
  }>(
    `SELECT version, commit_position, prepare_position, status, events_applied FROM ${REBUILDS} WHERE projection = $1`,
    [name],
  );
  const exists = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [shadowTable]);
  const previous = state.rows[0];
  const resumed =
    previous?.status === 'building' && previous.version === live.version && exists.rows[0].t !== null;
  let position: Position | undefined;
  let applied = 0;
  if (resumed) {
    position =
      previous.commit_position === null
        ? undefined
        : { commit: BigInt(previous.commit_position), prepare: BigInt(previous.prepare_position!) };
    applied = Number(previous.events_applied);
  } else {
    await db.transaction(async (tx) => {
      await tx.query(`DROP TABLE IF EXISTS ${shadowTable}`);
      await tx.query(
        `CREATE TABLE ${shadowTable} (LIKE ${liveTable} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
      );
      await tx.query(
        `INSERT INTO ${REBUILDS} (projection, version, commit_position, prepare_position, status, events_applied, started_at, updated_at)
         VALUES ($1, $2, NULL, NULL, 'building', 0, now(), now())
         ON CONFLICT (projection) DO UPDATE SET version = EXCLUDED.version, commit_position = NULL, prepare_position = NULL,
           status = 'building', events_applied = 0, started_at = now(), updated_at = now()`,
        [name, live.version],
      );
    });
  }

  const dropped: string[] = [];
  // Catch up to the store head in batches, each committed with the shadow checkpoint.
  for (let batches = 0; ; batches++) {
    if (
      (options.stopAfterBatches !== undefined && batches >= options.stopAfterBatches) ||
      options.shouldStop?.()
    ) {
      return {
        projection: name,
        status: 'interrupted',
        resumed,
        events_applied: applied,
        dropped_events: dropped,
        changed_documents: 0,
        removed_documents: 0,
        journal_rows: 0,
        reset_topics: 0,
        checkpoint: positionText(position),
      };
    }
    const page = await readPage(store, filter, position, options.batchSize);
    if (page.length === 0) break;
    const next = page[page.length - 1].position;
    await db.transaction(async (tx) => {
      dropped.push(...(await applyEvents(tx, shadow, page, name)).dropped.map((event) => event.id));
      await saveShadowCheckpoint(tx, name, next, page.length);
    });
    position = next;
    applied += page.length;
    options.onProgress?.(page.length);
    if (page.length < options.batchSize) break;
  }

  // The swap: one transaction, the live projector fenced out by its own checkpoint row lock. The
  // tail is read before the transaction (the store reads on other connections, which embedded
  // PGlite would queue behind it); if the live checkpoint turns out to be beyond what was read,
  // the attempt commits nothing and reads further.
  const tail: RecordedEvent[] = [];
  const result = await retryUntil(async () => {
    // Every matching event at or below `readTo` is in `tail` once this loop ends.
    const readTo = await store.headPosition();
    for (;;) {
      const page = await readPage(
        store,
        filter,
        tail.length ? tail[tail.length - 1].position : position,
        options.batchSize,
      );
      tail.push(...page);
      if (page.length < options.batchSize) break;
    }
    return db.transaction(async (tx) => {
      const liveAt = await lockLiveCheckpoint(tx, name);
      // Finish the tail: whatever the live projector consumed beyond the shadow (never beyond it).
      let swapAt = position;
      let tailApplied = 0;
      if (liveAt && (!position || comparePositions(liveAt, position) > 0)) {
        if (!readTo || comparePositions(liveAt, readTo) > 0) return TAIL_MOVED;
        const page = tail.filter((event) => comparePositions(event.position, liveAt) <= 0);
        dropped.push(...(await applyEvents(tx, shadow, page, name)).dropped.map((event) => event.id));
        tailApplied = page.length;
        swapAt = liveAt;
      }
      const swap = await swapIn(tx, live, shadowTable, options.reset, undefined);
      if (swapAt) {
        await tx.query(
          `INSERT INTO ${CHECKPOINTS} (projection, version, commit_position, prepare_position, updated_at) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (projection) DO UPDATE SET version = EXCLUDED.version, commit_position = EXCLUDED.commit_position,
             prepare_position = EXCLUDED.prepare_position, updated_at = now()`,
          [name, live.version, swapAt.commit.toString(), swapAt.prepare.toString()],
        );
      }
      await tx.query(
        `UPDATE ${REBUILDS} SET status = 'swapped', commit_position = $2, prepare_position = $3, events_applied = $4, updated_at = now() WHERE projection = $1`,
        [name, swapAt?.commit.toString() ?? null, swapAt?.prepare.toString() ?? null, applied + tailApplied],
      );
      await notifyJournalAppended(tx);
      return { swap, swapAt, tailApplied };
    });
  });
  applied += result.tailApplied;
  options.onProgress?.(result.tailApplied);
  position = result.swapAt;
  await db.query(`DROP TABLE IF EXISTS ${shadowTable}`);
  return {
    projection: name,
    status: 'swapped',
    resumed,
    events_applied: applied,
    dropped_events: dropped,
    ...result.swap,
    checkpoint: positionText(position),
  };
}

/**
 * Rebuilds one entity (`--stream run-123`): folds the stream's events up to the live checkpoint
 * into a temporary table and swaps the differences in, under the live checkpoint's row lock. The
 * live checkpoint does not move.
 */
export async function rebuildStream(
  store: EventStore,
  db: Database,
  projection: TableProjectionFactory,
  stream: string,
  reset: boolean,
): Promise<Omit<RebuildResult, 'status' | 'resumed'> & { stream: string }> {
  const live = projection();
  const name = live.name;
  if (!live.filter.streamPrefixes?.some((prefix) => stream.startsWith(prefix))) {
    throw new RebuildRefused(
      `stream ${stream} is not followed by ${name} (streams starting with ${live.filter.streamPrefixes?.join(', ')})`,
    );
  }
  const scratch = `pg_temp.rebuild_${live.model.table.split('.')[1]}`;
  const shadow = projection({ table: scratch, journal: false });
  return retryUntil(async () => {
    // Read before the transaction (see the swap above); every event at or below readTo is in `all`.
    const readTo = await store.headPosition();
    const all: RecordedEvent[] = [];
    for await (const event of store.readStream(stream)) all.push(event);
    return db.transaction(async (tx) => {
      const liveAt = await lockLiveCheckpoint(tx, name);
      if (liveAt && (!readTo || comparePositions(liveAt, readTo) > 0)) return TAIL_MOVED;
      await tx.query(
        `CREATE TEMP TABLE ${scratch.split('.')[1]} (LIKE ${live.model.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP`,
      );
      const events = liveAt ? all.filter((event) => comparePositions(event.position, liveAt) <= 0) : [];
      const { dropped } = await applyEvents(tx, shadow, events, name);
      const ids = [...new Set(events.map((event) => live.model.entityId(event)))];
      const swap = await swapIn(tx, live, scratch, reset, ids);
      await notifyJournalAppended(tx);
      return {
        projection: name,
        stream,
        events_applied: events.length,
        dropped_events: dropped.map((event) => event.id),
        ...swap,
        checkpoint: positionText(liveAt),
      };
    });
  });
}

/** The runner's batch fence: holding this row lock keeps every live batch of the projection waiting. */
async function lockLiveCheckpoint(tx: Queryable, name: string): Promise<Position | undefined> {
  const { rows } = await tx.query<{ commit_position: string; prepare_position: string }>(
    `SELECT commit_position, prepare_position FROM ${CHECKPOINTS} WHERE projection = $1 FOR UPDATE`,
    [name],
  );
  return rows[0] && { commit: BigInt(rows[0].commit_position), prepare: BigInt(rows[0].prepare_position) };
}

async function saveShadowCheckpoint(
  tx: Queryable,
  name: string,
  position: Position,
  events: number,
): Promise<void> {
  await tx.query(
    `UPDATE ${REBUILDS} SET commit_position = $2, prepare_position = $3, events_applied = events_applied + $4, updated_at = now() WHERE projection = $1`,
    [name, position.commit.toString(), position.prepare.toString(), events],
  );
}
