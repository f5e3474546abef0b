import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface JournalRow {
  watermark: number;
  doc_key: string;
  doc_version: number;
  payload: string | null;
  payload_hash: string;
  hydration_required: boolean;
  /** W3C trace context of the event the row was written for (NULL when tracing was off). */
  traceparent?: string | null;
}

/** Delivery policy of a topic class (khala.topic_classes). */
export interface TopicPolicy {
  replayBudget: number;
  hasSnapshot: boolean;
}

/** Where one (topic, org) sequence stands. A topic nobody wrote to yet is at head 0. */
export interface TopicState {
  head: number;
  retainedFrom: number;
}

/** An entity topic's run or worker, and the org asking for it. */
export interface EntityRef {
  kind: 'run' | 'worker';
  entityId: string;
  topic: string;
  orgId: string;
}

const POLICY_TTL_MS = 60_000;

/** Read-only access to the journal and what authorises reading it (the gateway's role cannot write them: INV-06). */
@Injectable()
export class JournalRepository {
  private policies?: { loadedAt: number; byKey: Map<string, TopicPolicy> };
  private workerSummariesReadable?: { checkedAt: number; readable: boolean };
  /** Identical reads in flight share one query (a resume storm asks for the same page thousands of times). */
  private readonly reads = new Map<string, Promise<JournalRow[]>>();
  /** topicStates calls of one tick, answered by one query. */
  private stateBatch?: { keys: { topic: string; orgId: string }[]; done: Promise<Map<string, TopicState>> };

  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * Rows after `after`, ascending. Journal rows are immutable once committed and watermarks commit
   * in order, so any answer is a gap-free prefix: sharing one in-flight answer between callers is safe.
   */
  readAfter(topic: string, orgId: string, after: number, limit: number): Promise<JournalRow[]> {
    const key = `${topic}\u0000${orgId}\u0000${after}\u0000${limit}`;
    let read = this.reads.get(key);
    if (!read) {
      read = this.queryAfter(topic, orgId, after, limit).finally(() => this.reads.delete(key));
      this.reads.set(key, read);
    }
    return read;
  }

  private async queryAfter(topic: string, orgId: string, after: number, limit: number): Promise<JournalRow[]> {
    const { rows } = await this.db.query<JournalRow & { watermark: string; doc_version: string }>(
      `SELECT watermark, doc_key, doc_version, payload, payload_hash, hydration_required, traceparent FROM khala.journal
        WHERE topic = $1 AND org_id = $2 AND watermark > $3 ORDER BY watermark LIMIT $4`,
      [topic, orgId, after, limit],
    );
    return rows.map(toJournalRow);
  }

  /**
   * New rows of many (topic, org) feeds, each after its own watermark and at most `limit` per
   * feed, in one round trip: a journal wake-up costs one query whatever the number of feeds.
   */
  async readAfterMany(feeds: { topic: string; orgId: string; after: number }[], limit: number): Promise<JournalRow[][]> {
    const result = feeds.map((): JournalRow[] => []);
    if (feeds.length === 0) return result;
    const { rows } = await this.db.query<JournalRow & { i: string; watermark: string; doc_version: string }>(
      `SELECT k.i, j.watermark, j.doc_key, j.doc_version, j.payload, j.payload_hash, j.hydration_required, j.traceparent
         FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS k(topic, org_id, after, i)
        CROSS JOIN LATERAL (
          SELECT watermark, doc_key, doc_version, payload, payload_hash, hydration_required, traceparent FROM khala.journal
           WHERE topic = k.topic AND org_id = k.org_id AND watermark > k.after ORDER BY watermark LIMIT $4) j
        ORDER BY k.i, j.watermark`,
      [feeds.map((feed) => feed.topic), feeds.map((feed) => feed.orgId), feeds.map((feed) => feed.after), limit],
    );
    for (const row of rows) result[Number(row.i) - 1].push(toJournalRow(row));
    return result;
  }

  /**
   * Heads and retention floors of several topics of one org. Calls made in the same tick (many
   * sockets subscribing at once) share one query; each caller still gets a state read after its call.
   */
  async topicStates(topics: string[], orgId: string): Promise<Map<string, TopicState>> {
    let batch = this.stateBatch;
    if (!batch) {
      const keys: { topic: string; orgId: string }[] = [];
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.stateBatch = undefined;
        return this.queryStates(keys);
      });
      batch = this.stateBatch = { keys, done };
    }
    for (const topic of topics) batch.keys.push({ topic, orgId });
    const all = await batch.done;
    const states = new Map<string, TopicState>();
    for (const topic of topics) states.set(topic, all.get(`${topic}\u0000${orgId}`) ?? { head: 0, retainedFrom: 1 });
    return states;
  }

  /**
   * Heads and floors of many (topic, org) sequences in one query, keyed `topic NUL org`; a
   * sequence nobody wrote to yet is absent.
   */
  async queryStates(keys: { topic: string; orgId: string }[]): Promise<Map<string, TopicState>> {
    const { rows } = await this.db.query<{ topic: string; org_id: string; head_watermark: string; retained_from: string }>(
      `SELECT s.topic, s.org_id, s.head_watermark, s.retained_from
         FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) AS k(topic, org_id)) k
         JOIN khala.topic_sequences s ON s.topic = k.topic AND s.org_id = k.org_id`,
      [keys.map((key) => key.topic), keys.map((key) => key.orgId)],
    );
    return new Map(rows.map((row) => [`${row.topic}\u0000${row.org_id}`, { head: Number(row.head_watermark), retainedFrom: Number(row.retained_from) }]));
  }

  /** Topic class policies; they change only by migration, so a short cache is safe. */
  async policy(policyKey: string): Promise<TopicPolicy | undefined> {
    if (!this.policies || Date.now() - this.policies.loadedAt > POLICY_TTL_MS) {
      const { rows } = await this.db.query<{ topic: string; replay_budget: number; has_snapshot: boolean }>(
        'SELECT topic, replay_budget, has_snapshot FROM khala.topic_classes',
      );
      this.policies = {
        loadedAt: Date.now(),
        byKey: new Map(rows.map((row) => [row.topic, { replayBudget: Number(row.replay_budget), hasSnapshot: row.has_snapshot }])),
      };
    }
    return this.policies.byKey.get(policyKey);
  }

  /**
   * Which of these entities the projections show as belonging to the given org, in one round trip:
   * the run's (or worker's) summary names the org, or the org already has the entity topic's
   * sequence (entity topics are written under the owner's org only). A foreign id and an id that
   * does not exist are both simply false.
   */
  async ownedEntities(entities: EntityRef[]): Promise<boolean[]> {
    if (entities.length === 0) return [];
    // The worker summaries read model may not be readable by this role (older grants); then only a
    // written entity topic proves a worker's ownership.
    const workers = (await this.canReadWorkerSummaries())
      ? `OR (k.kind = 'worker' AND EXISTS (SELECT 1 FROM runtime.codex_worker_summaries w WHERE w.worker_id = k.entity_id AND w.org_id = k.org_id))`
      : '';
    const { rows } = await this.db.query<{ i: string }>(
      `SELECT k.i FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(kind, entity_id, topic, org_id, i)
        WHERE EXISTS (SELECT 1 FROM khala.topic_sequences s WHERE s.topic = k.topic AND s.org_id = k.org_id)
           OR (k.kind = 'run' AND EXISTS (SELECT 1 FROM runtime.run_summaries r WHERE r.run_id = k.entity_id AND r.org_id = k.org_id))
           ${workers}`,
      [entities.map((e) => e.kind), entities.map((e) => e.entityId), entities.map((e) => e.topic), entities.map((e) => e.orgId)],
    );
    const owned = entities.map(() => false);
    for (const row of rows) owned[Number(row.i) - 1] = true;
    return owned;
  }

  private async canReadWorkerSummaries(): Promise<boolean> {
    const cached = this.workerSummariesReadable;
    if (cached && (cached.readable || Date.now() - cached.checkedAt < POLICY_TTL_MS)) return cached.readable;
    const { rows } = await this.db.query<{ readable: boolean }>(
      `SELECT CASE WHEN to_regclass('runtime.codex_worker_summaries') IS NULL THEN false
              ELSE has_table_privilege(to_regclass('runtime.codex_worker_summaries'), 'SELECT') END AS readable`,
    );
    const readable = rows[0]?.readable === true;
    this.workerSummariesReadable = { checkedAt: Date.now(), readable };
    return readable;
  }
}

function toJournalRow(row: JournalRow & { watermark: string | number; doc_version: string | number }): JournalRow {
  return {
    watermark: Number(row.watermark),
    doc_key: row.doc_key,
    doc_version: Number(row.doc_version),
    payload: row.payload,
    payload_hash: row.payload_hash,
    hydration_required: row.hydration_required,
    traceparent: row.traceparent ?? null,
  };
}
