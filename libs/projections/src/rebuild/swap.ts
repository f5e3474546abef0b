import { Queryable } from '@khala/platform';
import { appendJournalBatch, encodeDocument, JournalAppend, notifyTopicsReset } from '../journal-writer';
import { isSummary, keyColumns, TableProjection } from './table-projection';

export interface SwapResult {
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
export async function swapIn(
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
