import { Database } from '@khala/platform';
import type { Logger } from 'pino';

export interface RetentionOptions {
  /** Journal rows deleted per transaction. Default 5000. */
  batchSize?: number;
  /** Upper bound of batches per topic class per run, so one run cannot go on forever. Default 100. */
  maxBatchesPerClass?: number;
}

export interface PartitionFloor {
  topic: string;
  org_id: string;
  retained_from: number;
  head_watermark: number;
}

export interface TopicClassRetention {
  topic_class: string;
  retention_seconds: number;
  deleted: number;
  partitions: number;
  /** Lowest retained_from and highest head over the class's (topic, org) partitions. */
  oldest_retained_from: number | null;
  newest_head_watermark: number | null;
  /** Partitions whose retained_from this run moved, with their new floor. */
  advanced: PartitionFloor[];
}

/**
 * Deletes journal rows older than their topic class's retention in bounded batches and advances the
 * durable retained_from of each affected (topic, org) in the same transaction, so a cursor below the
 * floor is stale even when every row of the topic is gone (docs/protocol/README.md §7). Never touches
 * authority or read models.
 */
export async function runRetention(db: Database, options: RetentionOptions = {}): Promise<TopicClassRetention[]> {
  const batchSize = options.batchSize ?? 5000;
  const maxBatches = options.maxBatchesPerClass ?? 100;
  const { rows: classes } = await db.query<{ topic: string; seconds: string }>(
    'SELECT topic, extract(epoch FROM retention)::bigint AS seconds FROM khala.topic_classes ORDER BY topic',
  );
  const report: TopicClassRetention[] = [];
  for (const topicClass of classes) {
    const seconds = Number(topicClass.seconds);
    let deleted = 0;
    const advanced = new Map<string, PartitionFloor>();
    for (let batch = 0; batch < maxBatches; batch++) {
      const result = await db.transaction((tx) => deleteBatch(tx, topicClass.topic, seconds, batchSize));
      deleted += result.deleted;
      for (const floor of result.floors) advanced.set(`${floor.topic}\u0000${floor.org_id}`, floor);
      if (result.deleted < batchSize) break;
    }
    const { rows } = await db.query<{ partitions: string; oldest: string | null; newest: string | null }>(
      `SELECT count(*) AS partitions, min(retained_from) AS oldest, max(head_watermark) AS newest
         FROM khala.topic_sequences WHERE khala.topic_class(topic) = $1`,
      [topicClass.topic],
    );
    report.push({
      topic_class: topicClass.topic,
      retention_seconds: seconds,
      deleted,
      partitions: Number(rows[0].partitions),
      oldest_retained_from: rows[0].oldest === null ? null : Number(rows[0].oldest),
      newest_head_watermark: rows[0].newest === null ? null : Number(rows[0].newest),
      advanced: [...advanced.values()],
    });
  }
  return report;
}

async function deleteBatch(
  tx: import('pg').PoolClient,
  topicClass: string,
  retentionSeconds: number,
  batchSize: number,
): Promise<{ deleted: number; floors: PartitionFloor[] }> {
  // SKIP LOCKED: a second retention run (another instance) takes other rows instead of waiting.
  const { rows: gone } = await tx.query<{ topic: string; org_id: string; max_watermark: string; n: string }>(
    `WITH doomed AS (
       SELECT topic, org_id, watermark FROM khala.journal
        WHERE khala.topic_class(topic) = $1 AND committed_at < now() - make_interval(secs => $2)
        ORDER BY khala.topic_class(topic), committed_at
        LIMIT $3 FOR UPDATE SKIP LOCKED
     ), gone AS (
       DELETE FROM khala.journal j USING doomed d
        WHERE j.topic = d.topic AND j.org_id = d.org_id AND j.watermark = d.watermark
       RETURNING j.topic, j.org_id, j.watermark
     )
     SELECT topic, org_id, max(watermark) AS max_watermark, count(*) AS n FROM gone GROUP BY topic, org_id ORDER BY topic, org_id`,
    [topicClass, retentionSeconds, batchSize],
  );
  if (gone.length === 0) return { deleted: 0, floors: [] };
  // Sequence rows are locked in (topic, org) order, the order the projectors' allocation uses,
  // so retention and a projector batch cannot deadlock.
  const topics = gone.map((row) => row.topic);
  const orgs = gone.map((row) => row.org_id);
  await tx.query(
    `SELECT 1 FROM khala.topic_sequences s JOIN unnest($1::text[], $2::text[]) AS p(topic, org_id) USING (topic, org_id)
      ORDER BY s.topic, s.org_id FOR UPDATE OF s`,
    [topics, orgs],
  );
  const { rows: floors } = await tx.query<{ topic: string; org_id: string; retained_from: string; head_watermark: string }>(
    `UPDATE khala.topic_sequences s SET retained_from = GREATEST(s.retained_from, p.max_watermark + 1)
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS p(topic, org_id, max_watermark)
      WHERE s.topic = p.topic AND s.org_id = p.org_id
      RETURNING s.topic, s.org_id, s.retained_from, s.head_watermark`,
    [topics, orgs, gone.map((row) => row.max_watermark)],
  );
  return {
    deleted: gone.reduce((sum, row) => sum + Number(row.n), 0),
    floors: floors.map((row) => ({ ...row, retained_from: Number(row.retained_from), head_watermark: Number(row.head_watermark) })),
  };
}

/** Runs retention on a timer in a long-lived process (the runtime), logging what it removed. */
export class RetentionJob {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly everyMs = 60_000,
    private readonly options: RetentionOptions = {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.everyMs);
    this.timer.unref();
  }

  async runOnce(): Promise<TopicClassRetention[] | undefined> {
    if (this.running) return undefined;
    let report: TopicClassRetention[] | undefined;
    this.running = runRetention(this.db, this.options)
      .then((result) => {
        report = result;
        const deleted = result.filter((entry) => entry.deleted > 0);
        if (deleted.length) this.logger.info({ retention: deleted.map(({ advanced: _advanced, ...entry }) => entry) }, 'journal retention');
      })
      .catch((error: Error) => this.logger.warn({ err: error }, 'journal retention failed; will retry'))
      .finally(() => (this.running = undefined));
    await this.running;
    return report;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
