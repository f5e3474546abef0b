import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface JournalRow {
  watermark: number;
  doc_key: string;
  doc_version: number;
  payload: string | null;
  payload_hash: string;
  hydration_required: boolean;
}

/** Read-only access to the journal (the gateway's role cannot write it: INV-06). */
@Injectable()
export class JournalRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async readAfter(topic: string, orgId: string, after: number, limit: number): Promise<JournalRow[]> {
    const { rows } = await this.db.query<JournalRow & { watermark: string; doc_version: string }>(
      `SELECT watermark, doc_key, doc_version, payload, payload_hash, hydration_required FROM khala.journal
        WHERE topic = $1 AND org_id = $2 AND watermark > $3 ORDER BY watermark LIMIT $4`,
      [topic, orgId, after, limit],
    );
    return rows.map((row) => ({ ...row, watermark: Number(row.watermark), doc_version: Number(row.doc_version) }));
  }

  async headWatermark(topic: string, orgId: string): Promise<number> {
    const { rows } = await this.db.query<{ head_watermark: string }>(
      'SELECT head_watermark FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2',
      [topic, orgId],
    );
    return rows[0] ? Number(rows[0].head_watermark) : 0;
  }
}
