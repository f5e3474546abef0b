import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface CodexWorkerSummaryRow {
  document: Record<string, unknown> & { last_heartbeat_at?: string | null };
  doc_version: number;
  watermark: number;
  /** The worker stream's revision the projector has folded (what `?min_revision=` compares with). */
  revision: number;
}

interface Row {
  worker_id: string;
  document: CodexWorkerSummaryRow['document'];
  doc_version: string;
  watermark: string;
  revision: string;
}

const toRow = (row: Row): CodexWorkerSummaryRow => ({
  document: row.document,
  doc_version: Number(row.doc_version),
  watermark: Number(row.watermark),
  revision: Number(row.revision),
});

/** Rows written before migration 0012 have stream_revision -1; their doc_version says it exactly. */
const COLUMNS = 'worker_id, document, doc_version, watermark, GREATEST(stream_revision, doc_version - 1) AS revision';

/** runtime.codex_worker_summaries (the projections' read model), always scoped to the caller's org. */
@Injectable()
export class CodexWorkerSummariesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async find(orgId: string, workerId: string): Promise<CodexWorkerSummaryRow | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM runtime.codex_worker_summaries WHERE org_id = $1 AND worker_id = $2`, [
      orgId,
      workerId,
    ]);
    return rows[0] && toRow(rows[0]);
  }

  /** Newest first; `after` is the last worker_id of the previous page; undefined if it is not the org's. */
  async list(orgId: string, limit: number, after?: string): Promise<{ workers: CodexWorkerSummaryRow[]; nextAfter: string | null } | undefined> {
    if (after !== undefined) {
      const anchor = await this.db.query('SELECT 1 FROM runtime.codex_worker_summaries WHERE worker_id = $1 AND org_id = $2', [after, orgId]);
      if (anchor.rowCount === 0) return undefined;
    }
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM runtime.codex_worker_summaries
        WHERE org_id = $1
          AND ($2::text IS NULL OR (created_at, worker_id) < (SELECT created_at, worker_id FROM runtime.codex_worker_summaries WHERE org_id = $1 AND worker_id = $2))
        ORDER BY created_at DESC, worker_id DESC LIMIT $3`,
      [orgId, after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      workers: page.map(toRow),
      nextAfter: rows.length > limit ? page[page.length - 1].worker_id : null,
    };
  }
}
