/**
 * The Postgres NOTIFY channel projectors signal after journal rows commit; the gateway (and
 * runtime's read-your-writes wait) LISTEN on it.
 */
export const JOURNAL_CHANNEL = 'khala_journal';
/** Payload on JOURNAL_CHANNEL saying topic heads and floors moved without journal rows (a rebuild --reset). */
export const JOURNAL_TOPICS_RESET = 'topics_reset';

/**
 * One journal row as committed, exactly as a read of khala.journal returns it (payload is the
 * stored canonical JSON text, null in pointer mode). A projector in the same process hands the
 * rows it just committed to the gateway with its wake-up, so the gateway need not read them back.
 */
export interface CommittedJournalRow {
  topic: string;
  orgId: string;
  watermark: number;
  docKey: string;
  docVersion: number;
  payload: string | null;
  payloadHash: string;
  hydrationRequired: boolean;
  /** W3C trace context of the event the row was written for, when tracing was on (the gateway's delivery span links to it). */
  traceparent?: string | null;
}

/** The detail of a journal wake-up from this process: the rows its commit wrote, in watermark order per (topic, org). */
export interface CommittedJournal {
  rows: readonly CommittedJournalRow[];
}

export function isCommittedJournal(detail: unknown): detail is CommittedJournal {
  return typeof detail === 'object' && detail !== null && Array.isArray((detail as CommittedJournal).rows);
}
