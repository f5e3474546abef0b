import type { Database } from '@khala/platform';

export interface Footprint {
  events: number;
  journal: number;
  idempotencyKeys: number;
}

/**
 * Everything a tenant has written anywhere: its events (the org or user id appears in every event
 * of its streams), its journal rows and its stored idempotent responses. A rejected request must
 * leave all three unchanged.
 */
export async function footprint(db: Database, orgId: string, userId?: string): Promise<Footprint> {
  const { rows } = await db.query<{ events: string; journal: string; keys: string }>(
    `SELECT
       (SELECT count(*) FROM eventstore.events
         WHERE strpos(data::text, $1) > 0 OR strpos(metadata::text, $1) > 0
            OR ($2::text IS NOT NULL AND (strpos(data::text, $2) > 0 OR strpos(metadata::text, $2) > 0))) AS events,
       (SELECT count(*) FROM khala.journal WHERE org_id = $1) AS journal,
       (SELECT count(*) FROM runtime.idempotency_keys WHERE org_id = $1) AS keys`,
    [orgId, userId ?? null],
  );
  return { events: Number(rows[0].events), journal: Number(rows[0].journal), idempotencyKeys: Number(rows[0].keys) };
}
