import { Queryable } from '@khala/platform';

/**
 * Next dense watermark for (topic, org). The upsert takes the sequence row's lock until the
 * projector's transaction ends, so watermark order is commit order and a rollback consumes nothing.
 */
export async function allocateWatermark(tx: Queryable, topic: string, orgId: string): Promise<number> {
  return (await allocateWatermarks(tx, [{ topic, orgId, count: 1 }]))[0];
}

export interface WatermarkRequest {
  topic: string;
  orgId: string;
  count: number;
}

/**
 * Reserves `count` consecutive watermarks for each (topic, org) in one statement and returns the
 * first of each range, in request order. Requests must name each (topic, org) once. Rows are
 * locked in (topic, org) order, so two transactions touching the same partitions cannot deadlock.
 */
export async function allocateWatermarks(tx: Queryable, requests: readonly WatermarkRequest[]): Promise<number[]> {
  if (requests.length === 0) return [];
  const sorted = requests
    .map((request, index) => ({ ...request, index }))
    .sort((a, b) => (a.topic === b.topic ? compareText(a.orgId, b.orgId) : compareText(a.topic, b.topic)));
  const { rows } = await tx.query<{ topic: string; org_id: string; head_watermark: string }>(
    `INSERT INTO khala.topic_sequences AS s (topic, org_id, head_watermark)
     SELECT r.topic, r.org_id, r.n FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS r(topic, org_id, n, ord)
      ORDER BY r.ord
     ON CONFLICT (topic, org_id) DO UPDATE SET head_watermark = s.head_watermark + EXCLUDED.head_watermark
     RETURNING topic, org_id, head_watermark`,
    [sorted.map((r) => r.topic), sorted.map((r) => r.orgId), sorted.map((r) => r.count)],
  );
  const heads = new Map(rows.map((row) => [partitionKey(row.topic, row.org_id), Number(row.head_watermark)]));
  return requests.map((request) => heads.get(partitionKey(request.topic, request.orgId))! - request.count + 1);
}

const partitionKey = (topic: string, orgId: string) => `${topic}\u0000${orgId}`;
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
