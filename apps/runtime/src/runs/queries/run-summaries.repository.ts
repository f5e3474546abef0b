import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface RunSummaryView {
  document: Record<string, unknown>;
  watermark: number;
  doc_version: number;
}

/** Reads the run summary read model, always scoped to the caller's org (another org's run is 404). */
@Injectable()
export class RunSummariesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async find(orgId: string, runId: string): Promise<RunSummaryView | undefined> {
    const { rows } = await this.db.query<{ document: Record<string, unknown>; watermark: string; doc_version: string }>(
      'SELECT document, watermark, doc_version FROM runtime.run_summaries WHERE run_id = $1 AND org_id = $2',
      [runId, orgId],
    );
    const row = rows[0];
    return row && { document: row.document, watermark: Number(row.watermark), doc_version: Number(row.doc_version) };
  }
}
