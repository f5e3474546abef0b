import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface CodexWorkerSummaryRow {
  document: Record<string, unknown> & { last_heartbeat_at?: string | null };
  doc_version: number;
  watermark: number;
}

interface Row {
  worker_id: string;
  document: CodexWorkerSummaryRow['document'];
  doc_version: string;
  watermark: string;
}

/** runtime.codex_worker_summaries (the projections' read model), always scoped to the caller's org. */
@Injectable()
export class CodexWorkerSummariesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Newest first; `after` is the last worker_id of the previous page; undefined if it is not the org's. */
  async list(orgId: string, limit: number, after?: string): Promise<{ workers: CodexWorkerSummaryRow[]; nextAfter: string | null } | undefined> {
    if (after !== undefined) {
      const anchor = await this.db.query('SELECT 1 FROM runtime.codex_worker_summaries WHERE worker_id = $1 AND org_id = $2', [after, orgId]);
      if (anchor.rowCount === 0) return undefined;
    }
    const { rows } = await this.db.query<Row>(
      `SELECT worker_id, document, doc_version, watermark FROM runtime.codex_worker_summaries
        WHERE org_id = $1
          AND ($2::text IS NULL OR (created_at, worker_id) < (SELECT created_at, worker_id FROM runtime.codex_worker_summaries WHERE org_id = $1 AND worker_id = $2))
        ORDER BY created_at DESC, worker_id DESC LIMIT $3`,
      [orgId, after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      workers: page.map((row) => ({ document: row.document, doc_version: Number(row.doc_version), watermark: Number(row.watermark) })),
      nextAfter: rows.length > limit ? page[page.length - 1].worker_id : null,
    };
  }
}
