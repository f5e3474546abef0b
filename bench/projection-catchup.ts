/**
 * Catch-up throughput of the run summaries projection (benchmarks.md `projection`): N run events
 * already in the Postgres event store, one ProjectorRunner from an empty checkpoint, timed until
 * the checkpoint has passed every event. Prints events/s and peak RSS, checks the journal for gaps
 * and duplicates, writes bench/results/projection.json.
 *
 *   DATABASE_URL=postgres://... npm run bench:projection -- [--events 1000000] [--batch 5000]
 *     [--projection run_summaries|run_events] [--keep]
 *
 * Seeding is NOT the projected path: events go into eventstore.events with bulk
 * INSERT ... SELECT generate_series (runs of 50 events, 200 runs active at a time, 10 orgs), which
 * is fine for a read-side benchmark. Runs in a fresh database that is dropped afterwards.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { PostgresEventStore } from '@khala/eventstore';
import { Database, migrateUp, quoteIdentifier, withDatabaseName } from '@khala/platform';
import { Projection, ProjectorRunner, RunEventsProjection, RunSummariesProjection } from '@khala/projections';

const EVENTS_PER_RUN = 50;
const ACTIVE_RUNS = 200;
const ORGS = 10;

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

async function seed(db: Database, total: number): Promise<void> {
  const chunk = 100_000;
  for (let from = 0; from < total; from += chunk) {
    const to = Math.min(total, from + chunk) - 1;
    // Event i belongs to run (block * ACTIVE_RUNS + j % ACTIVE_RUNS) at revision floor(j / ACTIVE_RUNS).
    await db.query(
      `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
       SELECT md5('bench' || i)::uuid, 'run-bench_' || run, 'run', rev,
              CASE WHEN rev = 0 THEN 'RunCreated' WHEN rev = 1 THEN 'RunStarted' WHEN rev = ${EVENTS_PER_RUN - 1} THEN 'RunFinished' ELSE 'RunTextDelta' END,
              CASE WHEN rev = 0 THEN jsonb_build_object('run_id', 'bench_' || run, 'org_id', 'org_bench_' || (run % ${ORGS}), 'actor_user_id', 'user_bench',
                                                       'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'thread_id', 'thread-' || run,
                                                       'metadata', jsonb_build_object('source', 'bench'))
                   ELSE jsonb_build_object('run_id', 'bench_' || run, 'org_id', 'org_bench_' || (run % ${ORGS}), 'actor_user_id', 'user_bench',
                                           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'frame_id', 'frame-' || i,
                                           'payload', jsonb_build_object('text', 'token ' || rev || ' of run ' || run)) END,
              jsonb_build_object('correlation_id', 'corr-' || run, 'causation_id', '', 'actor', 'user_bench', 'schema_version', 1)
         FROM (SELECT i, (i / ${ACTIVE_RUNS * EVENTS_PER_RUN}) * ${ACTIVE_RUNS} + (i % ${ACTIVE_RUNS * EVENTS_PER_RUN}) % ${ACTIVE_RUNS} AS run,
                      ((i % ${ACTIVE_RUNS * EVENTS_PER_RUN}) / ${ACTIVE_RUNS}) AS rev
                 FROM generate_series($1::bigint, $2::bigint) AS i) AS g
        ORDER BY i`,
      [from, to],
    );
  }
  await db.query(
    `INSERT INTO eventstore.streams (stream_id, category, revision)
     SELECT stream_id, 'run', max(revision) FROM eventstore.events WHERE category = 'run' GROUP BY stream_id`,
  );
  await db.query('ANALYZE eventstore.events');
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL (a real Postgres) is required');
  const total = Number(arg('events', '1000000'));
  const batch = Number(arg('batch', '5000'));
  const which = arg('projection', 'run_summaries');
  const name = `khala_bench_${Date.now().toString(36)}`;
  const admin = await Database.connect({ url: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  const url = withDatabaseName(adminUrl, name);
  const db = await Database.connect({ url, max: 6, role: 'khala_runtime', applicationName: 'bench-projection' });
  const owner = await Database.connect({ url, max: 1 });
  try {
    await migrateUp(owner);
    const seedStarted = performance.now();
    await seed(owner, total);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    process.stdout.write(`seeded ${total.toLocaleString()} events in ${seedSeconds.toFixed(1)} s (bulk INSERT ... SELECT generate_series)\n`);

    const projection: Projection = which === 'run_events' ? new RunEventsProjection() : new RunSummariesProjection();
    const store = new PostgresEventStore(db, { pollIntervalMs: 100 });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    let committed = 0;
    let batches = 0;
    let batchMs = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const started = performance.now();
    const runner = new ProjectorRunner(store, db, projection, pino({ level: 'warn' }), {
      maxBatchSize: batch,
      onCommit: (info) => {
        committed += info.events;
        if (info.events) {
          batches += 1;
          batchMs += info.ms;
        }
        if (committed >= total) done();
      },
    });
    runner.start();
    const progress = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`  ${committed.toLocaleString()} events, ${(committed / seconds).toFixed(0)} events/s\n`);
    }, 5000);
    await finished;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(progress);
    clearInterval(sampler);
    await runner.stop();

    // Gaps and duplicates: every (topic, org) sequence must be 1..head with one row per watermark.
    const { rows } = await owner.query<{ partitions: string; rows: string; bad: string }>(
      `SELECT count(*) AS partitions, sum(n) AS rows, count(*) FILTER (WHERE n <> head OR max_w <> head OR min_w <> 1) AS bad FROM (
         SELECT j.topic, j.org_id, count(*) AS n, count(DISTINCT watermark) AS d, min(watermark) AS min_w, max(watermark) AS max_w, s.head_watermark AS head
           FROM khala.journal j JOIN khala.topic_sequences s USING (topic, org_id) GROUP BY j.topic, j.org_id, s.head_watermark) p`,
    );
    const result = {
      name: 'projection',
      projection: projection.name,
      events: total,
      batch_size: batch,
      seconds: Number(seconds.toFixed(2)),
      events_per_second: Math.round(total / seconds),
      batches,
      mean_batch_ms: Number((batchMs / Math.max(1, batches)).toFixed(1)),
      peak_rss_mib: Math.round(peakRss / 1024 / 1024),
      journal_rows: Number(rows[0].rows ?? 0),
      journal_partitions: Number(rows[0].partitions),
      gapped_or_duplicated_partitions: Number(rows[0].bad),
      target_events_per_second: 30_000,
      seed: 'bulk INSERT ... SELECT generate_series into eventstore.events (not through the append path)',
    };
    process.stdout.write(
      `\nprojection catch-up (${projection.name}, batch ${batch})\n` +
        `  events           ${total.toLocaleString()}\n` +
        `  time             ${seconds.toFixed(2)} s\n` +
        `  throughput       ${result.events_per_second.toLocaleString()} events/s (target ≥ 30,000)\n` +
        `  batches          ${batches} (mean ${result.mean_batch_ms} ms)\n` +
        `  peak RSS         ${result.peak_rss_mib} MiB\n` +
        `  journal          ${result.journal_rows.toLocaleString()} rows in ${result.journal_partitions} (topic, org) sequences, ${result.gapped_or_duplicated_partitions} with gaps or duplicates\n`,
    );
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'projection.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (result.gapped_or_duplicated_partitions > 0) process.exitCode = 1;
  } finally {
    await db.close();
    await owner.close();
    if (!process.argv.includes('--keep')) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
    await admin.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
