import { openagents } from '@khala/contracts';
import { JournalRow } from './journal.repository';

/**
 * Wire encoding of updates and update batches. A journal payload is canonical JSON text, spliced in
 * unparsed; each row is encoded once and the text reused for every subscriber of its topic.
 */
export interface EncodedRow {
  watermark: number;
  json: string;
  row: JournalRow;
}

export const MAX_BATCH_UPDATES = 200;
export const MAX_BATCH_BYTES = 2 * 1024 * 1024;

export function encodeRow(topic: string, row: JournalRow): EncodedRow {
  const json = `{"topic":${JSON.stringify(topic)},"doc_key":${JSON.stringify(row.doc_key)},"doc_version":${row.doc_version},"payload":${row.payload ?? 'null'},"payload_hash":${JSON.stringify(row.payload_hash)},"watermark":${row.watermark},"hydration_required":${row.hydration_required}}`;
  return { watermark: row.watermark, json, row };
}

/**
 * How many of `rows` (from `start`) fit one batch: at most `maxUpdates` and MAX_BATCH_BYTES, and
 * always at least one, so a client always progresses even past an oversized row.
 */
export function batchLength(rows: readonly EncodedRow[], start: number, maxUpdates: number, upTo = Infinity): number {
  let bytes = 0;
  let count = 0;
  for (let i = start; i < rows.length && count < maxUpdates; i++) {
    const row = rows[i];
    if (row.watermark > upTo) break;
    const size = row.json.length + 1;
    if (count > 0 && bytes + size > MAX_BATCH_BYTES) break;
    bytes += size;
    count++;
  }
  return count;
}

export function batchPayload(topic: string, rows: readonly EncodedRow[], replayComplete: boolean, head: number): string {
  let updates = '';
  for (let i = 0; i < rows.length; i++) updates += (i === 0 ? '' : ',') + rows[i].json;
  return `{"updates":[${updates}],"replay_complete":${replayComplete},"head_watermarks":[{"topic":${JSON.stringify(topic)},"watermark":${head}}]}`;
}

/** The binary UpdateBatch (proto) of the same batch, base64, for `sync:frame` clients. */
export function batchProtoBase64(topic: string, rows: readonly EncodedRow[], replayComplete: boolean, head: number): string {
  const message = openagents.sync.v1.UpdateBatch.fromObject({
    updates: rows.map(({ row }) => ({
      topic,
      doc_key: row.doc_key,
      doc_version: row.doc_version,
      payload: row.payload === null ? undefined : (JSON.parse(row.payload) as unknown),
      payload_hash: row.payload_hash,
      watermark: row.watermark,
      hydration_required: row.hydration_required,
    })),
    replay_complete: replayComplete,
    head_watermarks: [{ topic, watermark: head }],
  });
  return Buffer.from(openagents.sync.v1.UpdateBatch.encode(message).finish()).toString('base64');
}
