import { canonicalJson } from '@khala/contracts/canonical-json';
import { payloadHash } from '@khala/contracts/payload-hash';
import { currentCorrelationId, Queryable } from '@khala/platform';
import { allocateWatermark } from './watermark-allocator';

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

/** Hash and canonical text of a document, computed once and reused for read model and journal. */
export function encodeDocument(document: unknown): { text: string; hash: string } {
  const text = canonicalJson(document);
  return { text, hash: payloadHash(document) };
}

/** Appends one journal row at the next watermark of (topic, org), inside the caller's transaction. */
export async function appendJournal(
  tx: Queryable,
  entry: JournalDocument,
  encoded = encodeDocument(entry.document),
): Promise<JournalEntry> {
  const watermark = await allocateWatermark(tx, entry.topic, entry.orgId);
  const pointer = Buffer.byteLength(encoded.text) > MAX_INLINE_PAYLOAD_BYTES;
  await tx.query(
    `INSERT INTO khala.journal (topic, org_id, watermark, doc_key, doc_version, payload, payload_hash, hydration_required, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      entry.topic,
      entry.orgId,
      watermark,
      entry.docKey,
      entry.docVersion,
      pointer ? null : encoded.text,
      encoded.hash,
      pointer,
      entry.correlationId ?? currentCorrelationId() ?? null,
    ],
  );
  return { watermark, payloadHash: encoded.hash };
}

/** Wakes gateways after commit: NOTIFY inside the transaction is delivered only if it commits. */
export async function notifyJournalAppended(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [JOURNAL_CHANNEL, '']);
}
