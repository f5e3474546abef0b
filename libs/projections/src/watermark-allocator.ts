import { Queryable } from '@khala/platform';

/**
 * Next dense watermark for (topic, org). The upsert takes the sequence row's lock until the
 * projector's transaction ends, so watermark order is commit order and a rollback consumes nothing.
 */
export async function allocateWatermark(tx: Queryable, topic: string, orgId: string): Promise<number> {
  const { rows } = await tx.query<{ head_watermark: string }>(
    `INSERT INTO khala.topic_sequences AS s (topic, org_id, head_watermark) VALUES ($1, $2, 1)
     ON CONFLICT (topic, org_id) DO UPDATE SET head_watermark = s.head_watermark + 1
     RETURNING head_watermark`,
    [topic, orgId],
  );
  return Number(rows[0].head_watermark);
}
