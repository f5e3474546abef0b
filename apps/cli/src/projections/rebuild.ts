import { comparePositions, EventStore, Position, RecordedEvent } from '@khala/eventstore';
import { Database, Queryable } from '@khala/platform';
import { appendJournalBatch, encodeDocument, JournalAppend, notifyJournalAppended, notifyTopicsReset } from '@khala/projections';
import { CliError } from './catalog';
import {
  applyEvents,
  isSummary,
  keyColumns,
  readPage,
  TableProjection,
  tableProjection,
} from './projection-driver';

const CHECKPOINTS = 'runtime.projection_checkpoints';

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
  name: string,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const live = tableProjection(name);
  const liveTable = live.model.table;
  const shadowTable = shadowTableOf(liveTable);
  const shadow = tableProjection(name, { table: shadowTable, journal: false });
  const filter = live.filter;

  const state = await db.query<{
    version: number;
    commit_position: string | null;
    prepare_position: string | null;
    status: string;
    events_applied: string;
  }>(
    'SELECT version, commit_position, prepare_position, status, events_applied FROM runtime.projection_rebuilds WHERE projection = $1',
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
        `INSERT INTO runtime.projection_rebuilds (projection, version, commit_position, prepare_position, status, events_applied, started_at, updated_at)
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
        checkpoint: text(position),
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
        `UPDATE runtime.projection_rebuilds SET status = 'swapped', commit_position = $2, prepare_position = $3, events_applied = $4, updated_at = now() WHERE projection = $1`,
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
    checkpoint: text(position),
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
  name: string,
  stream: string,
  reset: boolean,
): Promise<Omit<RebuildResult, 'status' | 'resumed'> & { stream: string }> {
  const live = tableProjection(name);
  if (!live.filter.streamPrefixes?.some((prefix) => stream.startsWith(prefix))) {
    throw new CliError(
      `stream ${stream} is not followed by ${name} (streams starting with ${live.filter.streamPrefixes?.join(', ')})`,
    );
  }
  const scratch = `pg_temp.rebuild_${live.model.table.split('.')[1]}`;
  const shadow = tableProjection(name, { table: scratch, journal: false });
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
        checkpoint: text(liveAt),
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

interface SwapResult {
  changed_documents: number;
  removed_documents: number;
  journal_rows: number;
  reset_topics: number;
}

/**
 * Makes the live table equal the shadow: documents whose payload hash differs get a journal row
 * each (same allocator as the projector, so watermarks stay dense) unless `reset`, which instead
 * moves the topics' retention floor past their head so every client re-bootstraps. `entities`
 * limits the swap to those ids (single-stream rebuild).
 */
async function swapIn(
  tx: Queryable,
  live: TableProjection,
  shadowTable: string,
  reset: boolean,
  entities: string[] | undefined,
): Promise<SwapResult> {
  const liveTable = live.model.table;
  const idColumn = live.model.idColumn;
  const keys = keyColumns(live);
  const join = keys.map((key) => `l.${key} = s.${key}`).join(' AND ');
  const scope = entities ? `AND s.${idColumn} = ANY($1::text[])` : '';
  const liveScope = entities ? `AND l.${idColumn} = ANY($1::text[])` : '';
  const params = entities ? [entities] : [];

  const changed = await tx.query<{
    id: string;
    seq?: string;
    org_id: string;
    document: unknown;
    doc_version?: string;
    payload_hash: string;
  }>(
    `SELECT s.* FROM ${shadowTable} s LEFT JOIN ${liveTable} l ON ${join}
      WHERE l.payload_hash IS DISTINCT FROM s.payload_hash ${scope} ORDER BY ${keys.map((k) => `s.${k}`).join(', ')}`,
    params,
  );
  const rows = changed.rows.map((row) => ({
    ...row,
    id: (row as unknown as Record<string, string>)[idColumn],
  }));
  let journalRows = 0;
  let resetTopics = 0;
  if (reset) {
    resetTopics = await resetTopicsOf(tx, live);
    // No journal row announces a reset: gateways learn of it from this (delivered on commit only).
    if (resetTopics > 0) await notifyTopicsReset(tx);
    if (isSummary(live)) {
      // No journal row carries the new versions: they are as new as the (skipped-to) head.
      await tx.query(
        `UPDATE ${shadowTable} s SET watermark = ts.head_watermark FROM khala.topic_sequences ts WHERE ts.topic = $${params.length + 1} AND ts.org_id = s.org_id ${scope}`,
        [...params, live.model.topic],
      );
    }
  } else if (rows.length) {
    const appends: JournalAppend[] = [];
    for (const row of rows) {
      const encoded = encodeDocument(row.document);
      if (isSummary(live)) {
        appends.push({
          topic: live.model.topic,
          orgId: row.org_id,
          docKey: `${live.model.docKeyPrefix}:${row.id}`,
          docVersion: Number(row.doc_version),
          encoded,
        });
      } else {
        const entry = {
          orgId: row.org_id,
          docKey: `${live.model.docKeyPrefix}:${row.id}:${row.seq}`,
          docVersion: 1,
          encoded,
        };
        appends.push(
          { topic: live.model.classTopic, ...entry },
          { topic: live.model.entityTopic(row.id), ...entry },
        );
      }
    }
    const watermarks = await appendJournalBatch(tx, appends);
    journalRows = appends.length;
    if (isSummary(live)) {
      // The summary row records the watermark of the journal row that carried its version.
      await tx.query(
        // Ids are unique per org only (two orgs may share a worker id), so the org is part of the match.
        `UPDATE ${shadowTable} s SET watermark = w.watermark FROM unnest($1::text[], $2::text[], $3::bigint[]) AS w(org_id, id, watermark) WHERE s.org_id = w.org_id AND s.${idColumn} = w.id`,
        [rows.map((row) => row.org_id), rows.map((row) => row.id), watermarks],
      );
    }
  }
  if (isSummary(live)) {
    // Unchanged documents keep the watermark their live journal row has.
    await tx.query(
      `UPDATE ${shadowTable} s SET watermark = l.watermark FROM ${liveTable} l WHERE ${join} AND l.payload_hash = s.payload_hash ${scope}`,
      params,
    );
  }
  const removed = await tx.query(
    `DELETE FROM ${liveTable} l WHERE NOT EXISTS (SELECT 1 FROM ${shadowTable} s WHERE ${join}) ${liveScope}`,
    params,
  );
  const columns = await tableColumns(tx, liveTable);
  const updates = columns.filter((c) => !keys.includes(c));
  await tx.query(
    `INSERT INTO ${liveTable} AS l (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${shadowTable} s WHERE true ${scope}
     ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${updates.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
     WHERE (${updates.map((c) => `l.${c}`).join(', ')}) IS DISTINCT FROM (${updates.map((c) => `EXCLUDED.${c}`).join(', ')})`,
    params,
  );
  return {
    changed_documents: rows.length,
    removed_documents: removed.rowCount ?? 0,
    journal_rows: journalRows,
    reset_topics: resetTopics,
  };
}

/**
 * Every (topic, org) of the projection skips one watermark and moves retained_from past it: any
 * cursor, even one at the head, is then below the floor, so clients get stale_cursor and re-bootstrap.
 */
async function resetTopicsOf(tx: Queryable, live: TableProjection): Promise<number> {
  const topics = isSummary(live) ? [live.model.topic] : [live.model.classTopic];
  const pattern = isSummary(live) ? null : live.model.entityTopic('%');
  const result = await tx.query(
    `UPDATE khala.topic_sequences SET head_watermark = head_watermark + 1, retained_from = head_watermark + 2
      WHERE topic = ANY($1::text[]) OR ($2::text IS NOT NULL AND topic LIKE $2)`,
    [topics, pattern],
  );
  return result.rowCount ?? 0;
}

async function tableColumns(tx: Queryable, table: string): Promise<string[]> {
  const [schema, name] = table.split('.');
  const { rows } = await tx.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  return rows.map((row) => row.column_name);
}

async function saveShadowCheckpoint(
  tx: Queryable,
  name: string,
  position: Position,
  events: number,
): Promise<void> {
  await tx.query(
    `UPDATE runtime.projection_rebuilds SET commit_position = $2, prepare_position = $3, events_applied = events_applied + $4, updated_at = now() WHERE projection = $1`,
    [name, position.commit.toString(), position.prepare.toString(), events],
  );
}

function text(position: Position | undefined): string | null {
  return position ? `${position.commit}/${position.prepare}` : null;
}
