import { RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { appendJournal, encodeDocument } from '../journal-writer';
import { Projection } from '../projection';
import { evolveRunSummary, RunSummaryDocument } from './run-summary';

export const RUN_SUMMARIES_TOPIC = 'runtime.run_summaries';

interface StoredSummary {
  document: RunSummaryDocument;
  payload_hash: string;
  created_at: Date;
}

/**
 * runtime.run_summaries: one document per run, one journal row per batch in which its content
 * changed. doc_version is the run stream's revision + 1, so a rebuild produces the same versions.
 */
export class RunSummariesProjection implements Projection {
  readonly name = 'run_summaries';
  readonly version = 1;
  readonly filter = { streamPrefixes: ['run-'] };

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const byRun = new Map<string, RecordedEvent[]>();
    for (const event of events) {
      const runId = String(event.data.run_id ?? event.stream.slice('run-'.length));
      byRun.set(runId, [...(byRun.get(runId) ?? []), event]);
    }
    for (const [runId, runEvents] of byRun) await this.projectRun(tx, runId, runEvents);
  }

  private async projectRun(tx: Queryable, runId: string, events: RecordedEvent[]): Promise<void> {
    const { rows } = await tx.query<StoredSummary>(
      'SELECT document, payload_hash, created_at FROM runtime.run_summaries WHERE run_id = $1',
      [runId],
    );
    const stored = rows[0];
    const next = events.reduce<RunSummaryDocument | undefined>((doc, event) => evolveRunSummary(doc, event), stored?.document);
    if (!next) return;
    const encoded = encodeDocument(next);
    if (stored && stored.payload_hash === encoded.hash) return;
    const last = events[events.length - 1];
    const docVersion = Number(last.revision) + 1;
    const { watermark } = await appendJournal(
      tx,
      {
        topic: RUN_SUMMARIES_TOPIC,
        orgId: next.org_id,
        docKey: `run_summary:${runId}`,
        docVersion,
        document: next,
        correlationId: last.metadata.correlation_id,
      },
      encoded,
    );
    await tx.query(
      `INSERT INTO runtime.run_summaries (run_id, org_id, document, doc_version, payload_hash, watermark, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (run_id) DO UPDATE SET document = EXCLUDED.document, doc_version = EXCLUDED.doc_version,
         payload_hash = EXCLUDED.payload_hash, watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at`,
      [runId, next.org_id, encoded.text, docVersion, encoded.hash, watermark, next.created_at, next.updated_at],
    );
  }
}
