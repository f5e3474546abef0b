import { createHash } from 'node:crypto';
import { canonicalJson } from '@khala/contracts/canonical-json';
import { JOURNAL_CHANNEL, JOURNAL_TOPICS_RESET } from '@khala/contracts/sync';
import { CommittedJournalRow } from '@khala/contracts';
import { currentCorrelationId, Queryable } from '@khala/platform';

/** Documents above this size go to the journal as pointers; clients hydrate them over HTTP. */
export const MAX_INLINE_PAYLOAD_BYTES = 256 * 1024;
// The NOTIFY channel and its reset payload are the sync contract's; re-exported for this lib's users.
export { JOURNAL_CHANNEL, JOURNAL_TOPICS_RESET };

export interface JournalDocument {
  topic: string;
  orgId: string;
  docKey: string;
  docVersion: number;
  document: unknown;
  correlationId?: string;
}

export interface JournalEntry {
  watermark: number;
  payloadHash: string;
}

export interface EncodedDocument {
  /** Canonical JSON (docs/protocol/README.md §5): what the hash covers and what the journal stores. */
  text: string;
  /** `sha256:<hex>` of `text`, identical to payloadHash(document) from @khala/contracts. */
  hash: string;
}

/** Hash and canonical text of a document, computed once and reused for read model and journal. */
export function encodeDocument(document: unknown): EncodedDocument {
  const text = canonicalJson(document);
  // Hashing the text already made avoids canonicalising twice (payloadHash would); same bytes.
  return { text, hash: `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}` };
}

/** One journal row to write: a document version already encoded. */
export interface JournalAppend {
  topic: string;
  orgId: string;
  docKey: string;
  docVersion: number;
  encoded: EncodedDocument;
  correlationId?: string | null;
  /** W3C trace context of the event the row was written for (its metadata's `traceparent`). */
  traceparent?: string | null;
}

/**
 * The journal append as common table expressions, for a statement that also writes something
 * else with the watermarks (a summary's read-model upsert) in the same round trip. Defines
 * `journal_watermarks(ord, watermark)`, ord being the entry's 1-based index, and inserts the rows.
 *
 * Watermarks: `count` consecutive ones are reserved per (topic, org) by bumping its sequence row,
 * then given out in entry order. The bump holds the row's lock until the transaction ends, so
 * watermark order is commit order, gaps are impossible and a rollback consumes nothing. Rows are
 * locked in (topic, org) byte order, so two transactions touching the same partitions cannot
 * deadlock. Parameters are numbered from `firstParam`. `keepIf`: a condition on the entry `j`
 * (columns topic, org_id, doc_key, …) that drops the entries it is false for, e.g. rows an earlier
 * CTE of the same statement did not write.
 */
export function journalAppendCtes(
  entries: readonly JournalAppend[],
  { firstParam = 1, keepIf }: { firstParam?: number; keepIf?: string } = {},
): { sql: string; params: unknown[] } {
  const fallbackCorrelation = currentCorrelationId() ?? null;
  const pointer = entries.map((entry) => Buffer.byteLength(entry.encoded.text) > MAX_INLINE_PAYLOAD_BYTES);
  const p = (offset: number) => `$${firstParam + offset}`;
  return {
    sql: `journal_in AS (
        SELECT * FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bigint[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::boolean[], ${p(7)}::text[], ${p(8)}::text[])
          WITH ORDINALITY AS j(topic, org_id, doc_key, doc_version, payload, payload_hash, hydration_required, correlation_id, traceparent, ord)
         ${keepIf ? `WHERE ${keepIf}` : ''}
      ),
      journal_groups AS (SELECT topic, org_id, count(*) AS n FROM journal_in GROUP BY topic, org_id),
      journal_heads AS (
        INSERT INTO khala.topic_sequences AS s (topic, org_id, head_watermark)
        SELECT topic, org_id, n FROM journal_groups ORDER BY topic COLLATE "C", org_id COLLATE "C"
        ON CONFLICT (topic, org_id) DO UPDATE SET head_watermark = s.head_watermark + EXCLUDED.head_watermark
        RETURNING topic, org_id, head_watermark
      ),
      journal_watermarks AS (
        SELECT j.*, h.head_watermark - g.n + row_number() OVER (PARTITION BY j.topic, j.org_id ORDER BY j.ord) AS watermark
          FROM journal_in j JOIN journal_groups g USING (topic, org_id) JOIN journal_heads h USING (topic, org_id)
      ),
      journal_rows AS (
        INSERT INTO khala.journal (topic, org_id, watermark, doc_key, doc_version, payload, payload_hash, hydration_required, correlation_id, traceparent)
        SELECT topic, org_id, watermark, doc_key, doc_version, payload, payload_hash, hydration_required, correlation_id, traceparent
          FROM journal_watermarks ORDER BY ord
      )`,
    params: [
      entries.map((entry) => entry.topic),
      entries.map((entry) => entry.orgId),
      entries.map((entry) => entry.docKey),
      entries.map((entry) => entry.docVersion),
      entries.map((entry, index) => (pointer[index] ? null : entry.encoded.text)),
      entries.map((entry) => entry.encoded.hash),
      pointer,
      entries.map((entry) => entry.correlationId ?? fallbackCorrelation),
      entries.map((entry) => entry.traceparent ?? null),
    ],
  };
}

/**
 * Appends rows in the given order inside the caller's transaction, in one statement (see
 * journalAppendCtes). Returns each row's watermark, in input order.
 */
export async function appendJournalBatch(tx: Queryable, entries: readonly JournalAppend[]): Promise<number[]> {
  if (entries.length === 0) return [];
  const { sql, params } = journalAppendCtes(entries);
  const { rows } = await tx.query<{ watermark: string }>(`WITH ${sql} ${JOURNAL_WRITTEN_SELECT}`, params);
  return rows.map((row) => Number(row.watermark));
}

/** Ends a statement built on journalAppendCtes: each written row's entry (1-based ord) and watermark. */
export const JOURNAL_WRITTEN_SELECT = 'SELECT ord, watermark FROM journal_watermarks ORDER BY ord';

/** The rows a statement wrote (JOURNAL_WRITTEN_SELECT's result), as the gateway would read them. */
export function committedJournalRows(
  entries: readonly JournalAppend[],
  written: readonly { ord: string | number; watermark: string | number }[],
): CommittedJournalRow[] {
  return written.map(({ ord, watermark }) => {
    const entry = entries[Number(ord) - 1];
    const pointer = Buffer.byteLength(entry.encoded.text) > MAX_INLINE_PAYLOAD_BYTES;
    return {
      topic: entry.topic,
      orgId: entry.orgId,
      watermark: Number(watermark),
      docKey: entry.docKey,
      docVersion: entry.docVersion,
      payload: pointer ? null : entry.encoded.text,
      payloadHash: entry.encoded.hash,
      hydrationRequired: pointer,
      traceparent: entry.traceparent ?? null,
    };
  });
}

/** Appends one journal row at the next watermark of (topic, org), inside the caller's transaction. */
export async function appendJournal(
  tx: Queryable,
  entry: JournalDocument,
  encoded = encodeDocument(entry.document),
): Promise<JournalEntry> {
  const [watermark] = await appendJournalBatch(tx, [
    { topic: entry.topic, orgId: entry.orgId, docKey: entry.docKey, docVersion: entry.docVersion, encoded, correlationId: entry.correlationId },
  ]);
  return { watermark, payloadHash: encoded.hash };
}

/** Wakes gateways after commit: NOTIFY inside the transaction is delivered only if it commits. */
export async function notifyJournalAppended(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [JOURNAL_CHANNEL, '']);
}

/**
 * Tells gateways (after commit) that topic sequences were reset: their feeds' heads jumped with no
 * row to read, so they re-read the topic floors and send stale_cursor to the cursors left below.
 */
export async function notifyTopicsReset(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [JOURNAL_CHANNEL, JOURNAL_TOPICS_RESET]);
}
