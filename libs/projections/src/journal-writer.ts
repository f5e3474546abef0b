import { createHash } from 'node:crypto';
import { canonicalJson } from '@khala/contracts/canonical-json';
import { currentCorrelationId, Queryable } from '@khala/platform';
import { allocateWatermarks } from './watermark-allocator';

/** Documents above this size go to the journal as pointers; clients hydrate them over HTTP. */
export const MAX_INLINE_PAYLOAD_BYTES = 256 * 1024;
export const JOURNAL_CHANNEL = 'khala_journal';

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
  /** Canonical JSON (khala-protocol.md §5): what the hash covers and what the journal stores. */
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
}

/**
 * Appends rows in the given order inside the caller's transaction: watermarks are reserved per
 * (topic, org) in one statement and assigned in order, then every row goes in with one INSERT.
 * Returns each row's watermark, in input order.
 */
export async function appendJournalBatch(tx: Queryable, entries: readonly JournalAppend[]): Promise<number[]> {
  if (entries.length === 0) return [];
  const counts = new Map<string, { topic: string; orgId: string; count: number }>();
  for (const entry of entries) {
    const key = `${entry.topic}\u0000${entry.orgId}`;
    const group = counts.get(key);
    if (group) group.count += 1;
    else counts.set(key, { topic: entry.topic, orgId: entry.orgId, count: 1 });
  }
  const groups = [...counts.values()];
  const firsts = await allocateWatermarks(tx, groups);
  const next = new Map(groups.map((group, index) => [`${group.topic}\u0000${group.orgId}`, firsts[index]]));
  const watermarks = entries.map((entry) => {
    const key = `${entry.topic}\u0000${entry.orgId}`;
    const watermark = next.get(key)!;
    next.set(key, watermark + 1);
    return watermark;
  });
  const fallbackCorrelation = currentCorrelationId() ?? null;
  const pointer = entries.map((entry) => Buffer.byteLength(entry.encoded.text) > MAX_INLINE_PAYLOAD_BYTES);
  await tx.query(
    `INSERT INTO khala.journal (topic, org_id, watermark, doc_key, doc_version, payload, payload_hash, hydration_required, correlation_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::boolean[], $9::text[])`,
    [
      entries.map((entry) => entry.topic),
      entries.map((entry) => entry.orgId),
      watermarks,
      entries.map((entry) => entry.docKey),
      entries.map((entry) => entry.docVersion),
      entries.map((entry, index) => (pointer[index] ? null : entry.encoded.text)),
      entries.map((entry) => entry.encoded.hash),
      pointer,
      entries.map((entry) => entry.correlationId ?? fallbackCorrelation),
    ],
  );
  return watermarks;
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

/** Payload on JOURNAL_CHANNEL saying topic heads and floors moved without journal rows (a rebuild --reset). */
export const JOURNAL_TOPICS_RESET = 'topics_reset';

/**
 * Tells gateways (after commit) that topic sequences were reset: their feeds' heads jumped with no
 * row to read, so they re-read the topic floors and send stale_cursor to the cursors left below.
 */
export async function notifyTopicsReset(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [JOURNAL_CHANNEL, JOURNAL_TOPICS_RESET]);
}
