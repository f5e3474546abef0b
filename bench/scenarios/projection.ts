/**
 * `projection` (benchmarks.md): catch-up rebuild of run summaries from events already in the
 * store (1,000,000; --smoke 5,000), events/s and peak RSS, against an Emmett PostgreSQL consumer
 * projecting the same runs from its own store on the same server.
 *
 *   DATABASE_URL=postgres://… npm run bench -- projection [--smoke] [--events N] [--batch 5000] [--peer-seconds 120]
 *
 * Seeding is not measured. Ours: set-based INSERT … SELECT generate_series straight into the
 * store's tables (bench/lib/store/seed-khala-runs.ts). The peer: Emmett's own appendToStream, one
 * call per run of 50 events, 8 in parallel (so its events are grouped per run, ours interleaved
 * 200 runs at a time). Each projector runs in a child process (not pinned), so peak RSS is the
 * projector's alone. The peer may be capped at --peer-seconds (default 120; it is the slow
 * side): its events/s is then what it projected in that time.
 */
import { loadavg } from 'node:os';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { createScratchDatabase, Database, migrateUp } from '../../libs/platform/src/index';
import { machineDescription } from '../lib/report';
import { Integrity, Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { spawnJsonChild } from '../lib/store/child-process';
import type { EmmettCatchupConfig } from '../lib/store/emmett-catchup';
import type { CatchupConfig } from '../lib/store/khala-catchup';
import { emmettRunEvents, RUN_SHAPE, runLayout, seedKhalaRuns } from '../lib/store/seed-khala-runs';

const TARGET_RATIO = 10;
const TARGET_EVENTS_PER_S = 30_000;

interface CatchupResult {
  seconds: number;
  events: number;
  batches?: number;
  peakRssMiB: number;
}

const scenario: Scenario = {
  name: 'projection',
  description: 'catch-up rebuild of run summaries vs an Emmett PostgreSQL consumer',
  options: { events: { type: 'string' }, batch: { type: 'string' }, 'peer-seconds': { type: 'string' } },
  async run({ smoke, databaseUrl, args }: ScenarioOptions): Promise<ScenarioResult> {
    const layout = runLayout(args.integer('events', smoke ? 5_000 : 1_000_000));
    const batch = args.integer('batch', 5000);
    const peerSeconds = args.amount('peer-seconds') ?? (smoke ? 60 : 120);
    const loadBefore = loadavg()[0];
    const measurements: Measurement[] = [];
    const notes = [
      `${layout.total.toLocaleString()} events: ${layout.runs.toLocaleString()} runs of ${RUN_SHAPE.eventsPerRun} (RunCreated, RunStarted, ${RUN_SHAPE.eventsPerRun - 3} × RunTextDelta of ${RUN_SHAPE.textBytes} chars, RunFinished) over ${RUN_SHAPE.orgs} orgs`,
      `khala: seeded by INSERT … SELECT generate_series into eventstore.events (${layout.activeRuns} runs interleaved); ProjectorRunner + RunSummariesProjection from an empty checkpoint, batch ${batch}, with journal rows and watermarks as in production`,
      'each projector runs in a child process (not pinned: there is no load generator to keep apart from, and a pinned process on a shared machine only loses the scheduler\'s balancing); Postgres on the same machine',
    ];

    // ---------------------------------------------------------------- ours
    const ours = await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_projection' });
    let khalaRate = 0;
    try {
      const owner = await Database.connect({ url: ours.url, max: 1 });
      try {
        await migrateUp(owner);
        const seedStarted = performance.now();
        await seedKhalaRuns(owner, layout.total, layout.activeRuns);
        process.stderr.write(`  khala: seeded ${layout.total.toLocaleString()} events in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s\n`);
        const config: CatchupConfig = { url: ours.url, events: layout.total, batch };
        const child = spawnJsonChild('bench/lib/store/khala-catchup.ts', { args: [JSON.stringify(config)] });
        const result = await child.next<CatchupResult>();
        await child.stop();
        khalaRate = result.events / result.seconds;
        measurements.push({
          system: 'khala',
          variant: `events=${layout.total}`,
          figures: { events_per_s: khalaRate, seconds: result.seconds, peak_rss_mib: result.peakRssMiB, events: result.events, batches: result.batches ?? 0 },
          integrity: await checkKhalaIntegrity(owner),
        });
        process.stderr.write(`  khala: ${Math.round(khalaRate).toLocaleString()} events/s, peak RSS ${Math.round(result.peakRssMiB)} MiB\n`);
      } finally {
        await owner.close();
      }
    } finally {
      await ours.drop();
    }

    // ---------------------------------------------------------------- peer
    const ratios: Ratio[] = [
      { label: 'khala events/s (absolute)', value: khalaRate, target: `>= ${TARGET_EVENTS_PER_S}`, met: khalaRate >= TARGET_EVENTS_PER_S },
    ];
    if (!databaseUrl) {
      notes.push('emmett peer skipped: Emmett PostgreSQL needs a real Postgres (set DATABASE_URL)');
    } else {
      const peerDb = await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_emmett' });
      try {
        const seedStarted = performance.now();
        await seedEmmett(peerDb.url, layout);
        process.stderr.write(`  emmett: seeded ${layout.total.toLocaleString()} events in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s\n`);
        const peerBatch = Math.min(batch, 1000);
        const config: EmmettCatchupConfig = { url: peerDb.url, batch: peerBatch, maxSeconds: peerSeconds };
        const child = spawnJsonChild('bench/lib/store/emmett-catchup.ts', { args: [JSON.stringify(config)] });
        const result = await child.next<CatchupResult & Integrity & { timedOut: boolean }>();
        await child.stop();
        const rate = result.events / result.seconds;
        measurements.push({
          system: 'emmett',
          variant: `events=${layout.total}`,
          figures: { events_per_s: rate, seconds: result.seconds, peak_rss_mib: result.peakRssMiB, events: result.events },
          integrity: { gaps: result.gaps, duplicates: result.duplicates, reorders: result.reorders },
        });
        notes.push(
          `emmett: postgreSQLEventStoreConsumer, pulling batch ${peerBatch}, one projector whose postgreSQLProjection runs one upsert per event (Emmett's raw-SQL batch style) into its run summaries table` +
            (result.timedOut
              ? `; stopped after ${peerSeconds} s with ${result.events.toLocaleString()} of ${layout.total.toLocaleString()} events projected (events/s over that time)`
              : `; it reported no messages left after ${result.events.toLocaleString()} of ${layout.total.toLocaleString()} events`) +
            (result.gaps ? `; ${result.gaps} events skipped (positions it never handed over: Emmett 0.42 orders by transaction id but checkpoints by global position, and the 8 parallel seeding appends committed out of position order)` : ''),
        );
        process.stderr.write(`  emmett: ${Math.round(rate).toLocaleString()} events/s, peak RSS ${Math.round(result.peakRssMiB)} MiB\n`);
        const value = khalaRate / rate;
        ratios.unshift({ label: 'catch-up events/s, khala ÷ emmett consumer', value, target: `>= ${TARGET_RATIO}`, met: value >= TARGET_RATIO });
      } finally {
        await peerDb.drop();
      }
    }
    notes.push(`1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (a shared machine: compare the ratio, not the absolutes)`);
    return { scenario: 'projection', machine: machineDescription(), measurements, ratios, notes };
  },
};

/**
 * Every run's summary counts exactly its frames (fewer: an event skipped; more: one applied twice)
 * and carries the version of its last event; every (topic, org) journal sequence is 1..head with
 * no hole, and each document's versions rise with its watermarks (else: reordered).
 */
async function checkKhalaIntegrity(db: Database): Promise<Integrity> {
  const { rows: runs } = await db.query<{ missing: string; fewer: string; more: string; version: string }>(
    `SELECT count(*) FILTER (WHERE r.run_id IS NULL) AS missing,
            count(*) FILTER (WHERE (r.document->>'frame_count')::bigint < s.revision) AS fewer,
            count(*) FILTER (WHERE (r.document->>'frame_count')::bigint > s.revision) AS more,
            count(*) FILTER (WHERE r.doc_version <> s.revision + 1) AS version
       FROM eventstore.streams s LEFT JOIN runtime.run_summaries r ON 'run-' || r.run_id = s.stream_id
      WHERE s.category = 'run'`,
  );
  const { rows: journal } = await db.query<{ holes: string; reordered: string }>(
    `SELECT (SELECT count(*) FROM (
               SELECT j.topic, j.org_id FROM khala.journal j JOIN khala.topic_sequences s USING (topic, org_id)
                GROUP BY j.topic, j.org_id, s.head_watermark
               HAVING count(*) <> s.head_watermark OR min(j.watermark) <> 1 OR max(j.watermark) <> s.head_watermark) p) AS holes,
            (SELECT count(*) FROM (
               SELECT doc_version <= lag(doc_version) OVER (PARTITION BY topic, org_id, doc_key ORDER BY watermark) AS back
                 FROM khala.journal) d WHERE back) AS reordered`,
  );
  const run = runs[0];
  return {
    gaps: Number(run.missing) + Number(run.fewer) + Number(journal[0].holes),
    duplicates: Number(run.more),
    reorders: Number(run.version) + Number(journal[0].reordered),
  };
}

/** Emmett's own append path, one call per run (its 50 events), 8 calls in flight. */
async function seedEmmett(url: string, layout: { runs: number; activeRuns: number }): Promise<void> {
  const store = getPostgreSQLEventStore(url);
  const occurredAt = new Date().toISOString();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let run = next++; run < layout.runs; run = next++) {
          await store.appendToStream(`run-bench_${run}`, emmettRunEvents(run, layout.activeRuns, occurredAt));
        }
      }),
    );
  } finally {
    await store.close();
  }
  const db = await Database.connect({ url, max: 1 });
  try {
    await db.query(
      `CREATE TABLE bench_run_summaries (run_id text PRIMARY KEY, org_id text NOT NULL, status text NOT NULL, frame_count int NOT NULL,
                                         created_at text NOT NULL, updated_at text NOT NULL, document jsonb NOT NULL)`,
    );
    await db.query('ANALYZE');
  } finally {
    await db.close();
  }
}

export default scenario;
