import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface RunSummaryView {
  document: Record<string, unknown>;
  watermark: number;
  doc_version: number;
  /** The run stream's revision the projector has folded (what `?min_revision=` compares with). */
  revision: number;
}

interface Row {
  run_id: string;
  document: Record<string, unknown>;
  watermark: string;
  doc_version: string;
  revision: string;
}

const toView = (row: Row): RunSummaryView => ({
  document: row.document,
  watermark: Number(row.watermark),
  doc_version: Number(row.doc_version),
  revision: Number(row.revision),
});

/** Rows written before migration 0012 have stream_revision -1; their doc_version says it exactly. */
const COLUMNS = 'run_id, document, watermark, doc_version, GREATEST(stream_revision, doc_version - 1) AS revision';

/** Reads the run summary read model, always scoped to the caller's org (another org's run is 404). */
@Injectable()
export class RunSummariesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async find(orgId: string, runId: string): Promise<RunSummaryView | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM runtime.run_summaries WHERE run_id = $1 AND org_id = $2`,
      [runId, orgId],
    );
    return rows[0] && toView(rows[0]);
  }

  /**
   * The org's runs, newest first (index run_summaries_org_newest). `after` is the last run_id of
   * the previous page; undefined when it is not one of the org's runs.
   */
  async list(orgId: string, limit: number, after?: string): Promise<{ runs: RunSummaryView[]; nextAfter: string | null } | undefined> {
    if (after !== undefined) {
      const anchor = await this.db.query('SELECT 1 FROM runtime.run_summaries WHERE run_id = $1 AND org_id = $2', [after, orgId]);
      if (anchor.rowCount === 0) return undefined;
    }
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM runtime.run_summaries
        WHERE org_id = $1
          AND ($2::text IS NULL OR (created_at, run_id) < (SELECT created_at, run_id FROM runtime.run_summaries WHERE run_id = $2))
        ORDER BY created_at DESC, run_id DESC LIMIT $3`,
      [orgId, after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return { runs: page.map(toView), nextAfter: rows.length > limit ? page[page.length - 1].run_id : null };
  }
}
