import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

/** Topics with a snapshot source (khala.topic_classes.has_snapshot) and the read model behind each. */
export const SNAPSHOT_SOURCES: Readonly<Record<string, { table: string; id: string; docKeyPrefix: string }>> = {
  'runtime.run_summaries': { table: 'runtime.run_summaries', id: 'run_id', docKeyPrefix: 'run_summary' },
  'runtime.codex_worker_summaries': { table: 'runtime.codex_worker_summaries', id: 'worker_id', docKeyPrefix: 'codex_worker_summary' },
};

export interface SnapshotDocument {
  doc_key: string;
  doc_version: number;
  payload: unknown;
  payload_hash: string;
}

export interface SnapshotPage {
  watermark: number;
  documents: SnapshotDocument[];
  /** Entity id of the last document, when another page follows. */
  after: string | null;
}

/**
 * Reads snapshot pages from the read models (read-only role). Every page of one snapshot is read
 * at the watermark pinned by its first page: a page holds the org's documents whose current version
 * was journaled at or below that watermark. A document changed after it is left out; its newer
 * versions are journal rows above the watermark, which `subscribe` with resume_after = watermark
 * delivers. So snapshot + subscribe misses nothing and doubles nothing, whatever commits between
 * pages. Each page itself is one REPEATABLE READ transaction (head and documents agree).
 */
@Injectable()
export class SnapshotReader {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async page(topic: string, orgId: string, pin: { watermark: number; after: string } | undefined, pageSize: number): Promise<SnapshotPage> {
    const source = SNAPSHOT_SOURCES[topic];
    return this.db.transaction(
      async (tx) => {
        let watermark = pin?.watermark;
        if (watermark === undefined) {
          const { rows } = await tx.query<{ head_watermark: string }>(
            'SELECT head_watermark FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2',
            [topic, orgId],
          );
          watermark = rows[0] ? Number(rows[0].head_watermark) : 0;
        }
        const { rows } = await tx.query<{ id: string; document: unknown; doc_version: string; payload_hash: string }>(
          `SELECT ${source.id} AS id, document, doc_version, payload_hash FROM ${source.table}
            WHERE org_id = $1 AND watermark <= $2 AND ($3::text IS NULL OR ${source.id} > $3)
            ORDER BY ${source.id} LIMIT $4`,
          [orgId, watermark, pin?.after ?? null, pageSize + 1],
        );
        const page = rows.slice(0, pageSize);
        return {
          watermark,
          documents: page.map((row) => ({
            doc_key: `${source.docKeyPrefix}:${row.id}`,
            doc_version: Number(row.doc_version),
            payload: row.document,
            payload_hash: row.payload_hash,
          })),
          after: rows.length > pageSize ? page[page.length - 1].id : null,
        };
      },
      { isolation: 'repeatable read' },
    );
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('SELECT 1 FROM control.revocations WHERE session_id = $1', [sessionId]);
    return (rowCount ?? 0) > 0;
  }
}
