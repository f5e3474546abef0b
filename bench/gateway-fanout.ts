/**
 * Khala gateway fan-out: deliveries/s of ~200-byte updates to N WebSocket subscribers of one topic,
 * and command → subscriber latency (HTTP POST /api/runtime/runs → projector → journal → gateway →
 * every subscriber). Prints a table and writes bench/results/gateway-fanout.json; asserts nothing,
 * except that gaps, duplicates and reorders are counted (any non-zero count fails the run).
 *
 *   DATABASE_URL=postgres://… npm run bench:fanout          # fresh database on that server (meaningful figures)
 *   npm run bench:fanout                                      # embedded PGlite (smoke only: one backend)
 *   BENCH_SUBSCRIBERS=1000 BENCH_UPDATES=1000 BENCH_COMMANDS=300 BENCH_RATE=50 npm run bench:fanout
 *   npm run bench:fanout -- --smoke                           # 50 subscribers, CI-sized
 *
 * The system (control + runtime with its projectors + gateway) runs in this process; the load
 * generator (subscribers, the journal writer of the throughput phase, the HTTP commands of the
 * latency phase) is a forked process on loopback. Where `taskset` exists they are pinned to
 * different cores.
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TokenService } from '../libs/auth/src/index';
import { Database, quoteIdentifier, redactDatabaseUrl, withDatabaseName } from '../libs/platform/src/index';
import { appendJournalBatch, encodeDocument, notifyJournalAppended } from '../libs/projections/src/index';
import { startSystem } from '../apps/embedded/src/embedded';

const SMOKE = process.argv.includes('--smoke');
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (SMOKE ? 50 : 1000));
const UPDATES = Number(process.env.BENCH_UPDATES ?? (SMOKE ? 100 : 1000));
const ROWS_PER_TX = Number(process.env.BENCH_ROWS_PER_TX ?? 10);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? (SMOKE ? 20 : 300));
const RATE = Number(process.env.BENCH_RATE ?? 50);
const JOURNAL_PROBES = Number(process.env.BENCH_JOURNAL_PROBES ?? (SMOKE ? 20 : 200));
const THROUGHPUT_TOPIC = 'runtime.notifications';
const LATENCY_TOPIC = 'runtime.run_summaries';

interface LoadgenConfig {
  wsUrl: string;
  runtimeUrl: string;
  databaseUrl: string;
  orgId: string;
  syncToken: string;
  accessToken: string;
}

type ToParent =
  | { type: 'ready'; connectSeconds: number }
  | { type: 'throughput'; seconds: number; deliveries: number; gaps: number; duplicates: number; writeSeconds: number }
  | { type: 'journal_latency'; samples: number; p50: number; p90: number; p99: number; max: number; missing: number }
  | { type: 'latency'; samples: number; p50: number; p90: number; p99: number; max: number; missing: number; commandErrors: number; gaps: number; minLastWatermark: number }
  | { type: 'error'; message: string };

// ---------------------------------------------------------------------------------------- server

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (adminUrl) {
    const name = `khala_bench_${randomBytes(4).toString('hex')}`;
    const admin = await Database.connect({ url: adminUrl, max: 1 });
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    await admin.close();
    databaseUrl = withDatabaseName(adminUrl, name);
    dropDatabase = async () => {
      const db = await Database.connect({ url: adminUrl, max: 1 });
      await db.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await db.close();
    };
  }
  const system = await startSystem({
    ...process.env,
    DATA_DIR: 'memory',
    DATABASE_URL: databaseUrl,
    CONTROL_PORT: '0',
    RUNTIME_PORT: '0',
    KHALA_PORT: '0',
    LOG_LEVEL: 'silent',
    GATEWAY_RATE_LIMIT_BURST: '1000',
  });
  const store = databaseUrl ? `postgres (${redactDatabaseUrl(databaseUrl)})` : 'pglite (embedded)';
  const identity = { userId: 'bench_user', orgId: `bench_org_${randomBytes(3).toString('hex')}`, sessionId: 'bench_session', deviceId: 'bench_device' };
  const tokens = new TokenService(system.keys);
  const config: LoadgenConfig = {
    wsUrl: `${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket`,
    runtimeUrl: system.urls.runtime,
    databaseUrl: system.databaseUrl,
    orgId: identity.orgId,
    syncToken: (await tokens.issueSyncToken(identity, [THROUGHPUT_TOPIC, LATENCY_TOPIC], 900)).token,
    accessToken: (await tokens.issueAccessToken(identity, 900)).token,
  };

  const child = fork(__filename, ['--loadgen', ...(SMOKE ? ['--smoke'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pinned = pin(child);
  const messages: ToParent[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (message: ToParent) => {
    messages.push(message);
    for (const waiter of waiters.splice(0)) waiter();
  });
  const next = async <T extends ToParent['type']>(type: T): Promise<Extract<ToParent, { type: T }>> => {
    for (;;) {
      const error = messages.find((m) => m.type === 'error') as Extract<ToParent, { type: 'error' }> | undefined;
      if (error) throw new Error(`load generator: ${error.message}`);
      const found = messages.find((m) => m.type === type);
      if (found) return found as Extract<ToParent, { type: T }>;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };

  try {
    const rssBefore = process.memoryUsage().rss;
    child.send(config);
    const ready = await next('ready');
    const rssAfter = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    const throughput = await next('throughput');
    const cpu = process.cpuUsage(cpuBefore);
    const journalLatency = await next('journal_latency');
    const latency = await next('latency');
    const pickup = await projectorPickup(system.databaseUrl, identity.orgId);
    const journaled = await journalCounts(system.databaseUrl, identity.orgId);

    const deliveriesPerSecond = throughput.deliveries / throughput.seconds;
    const result = {
      benchmark: 'gateway-fanout',
      at: new Date().toISOString(),
      store,
      pinned,
      subscribers: SUBSCRIBERS,
      throughput: {
        updates: UPDATES,
        update_payload_bytes: 200,
        rows_per_transaction: ROWS_PER_TX,
        deliveries: throughput.deliveries,
        seconds: round(throughput.seconds),
        deliveries_per_second: Math.round(deliveriesPerSecond),
        writer_seconds: round(throughput.writeSeconds),
        server_cpu_seconds: round((cpu.user + cpu.system) / 1e6),
        gaps: throughput.gaps,
        duplicates_or_reorders: throughput.duplicates,
      },
      journal_to_subscriber: {
        updates: JOURNAL_PROBES,
        per_second: RATE,
        samples: journalLatency.samples,
        p50_ms: round(journalLatency.p50),
        p90_ms: round(journalLatency.p90),
        p99_ms: round(journalLatency.p99),
        max_ms: round(journalLatency.max),
        missing_deliveries: journalLatency.missing,
      },
      projector_pickup: pickup,
      journaled_runs: journaled,
      latency: {
        commands: COMMANDS,
        commands_per_second: RATE,
        samples: latency.samples,
        p50_ms: round(latency.p50),
        p90_ms: round(latency.p90),
        p99_ms: round(latency.p99),
        max_ms: round(latency.max),
        missing_deliveries: latency.missing,
        command_errors: latency.commandErrors,
        gaps_or_reorders: latency.gaps,
        lowest_final_watermark: latency.minLastWatermark,
      },
      connections: {
        connect_join_subscribe_seconds: round(ready.connectSeconds),
        server_rss_per_connection_bytes: Math.round((rssAfter - rssBefore) / SUBSCRIBERS),
      },
    };
    printTable(result);
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'gateway-fanout.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`wrote bench/results/gateway-fanout.json\n`);
    if (throughput.gaps || throughput.duplicates || latency.missing || latency.gaps || journalLatency.missing) process.exitCode = 1;
  } finally {
    child.kill();
    await system.stop();
    await dropDatabase?.();
  }
}

function pin(child: ChildProcess): string {
  try {
    execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-pc', '1', String(child.pid)], { stdio: 'ignore' });
    return 'server on cpu 0, load generator on cpu 1 (Postgres unpinned)';
  } catch {
    return 'not pinned';
  }
}

function printTable(result: {
  store: string;
  subscribers: number;
  throughput: { deliveries_per_second: number; deliveries: number; seconds: number; gaps: number; duplicates_or_reorders: number; server_cpu_seconds: number };
  journal_to_subscriber: { p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; samples: number };
  projector_pickup: { p50_ms: number; p99_ms: number } | null;
  latency: { p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; samples: number; commands_per_second: number; command_errors: number; missing_deliveries: number };
  connections: { connect_join_subscribe_seconds: number; server_rss_per_connection_bytes: number };
}): void {
  const rows: [string, string][] = [
    ['store', result.store],
    ['subscribers', String(result.subscribers)],
    ['deliveries/s (200 B updates)', result.throughput.deliveries_per_second.toLocaleString('en')],
    ['deliveries / seconds', `${result.throughput.deliveries.toLocaleString('en')} / ${result.throughput.seconds}`],
    ['server CPU s during fan-out', String(result.throughput.server_cpu_seconds)],
    ['gaps / dup+reorders', `${result.throughput.gaps} / ${result.throughput.duplicates_or_reorders}`],
    [`journal commit→subscriber p50 / p90 / p99 ms (@${result.latency.commands_per_second}/s)`, `${result.journal_to_subscriber.p50_ms} / ${result.journal_to_subscriber.p90_ms} / ${result.journal_to_subscriber.p99_ms}`],
    ['journal→subscriber max ms / samples', `${result.journal_to_subscriber.max_ms} / ${result.journal_to_subscriber.samples}`],
    ['event append→journal row (projector) p50 / p99 ms', result.projector_pickup ? `${result.projector_pickup.p50_ms} / ${result.projector_pickup.p99_ms}` : 'n/a'],
    [`command→subscriber p50 / p90 / p99 ms (@${result.latency.commands_per_second}/s)`, `${result.latency.p50_ms} / ${result.latency.p90_ms} / ${result.latency.p99_ms}`],
    ['latency max ms / samples / missing / command errors', `${result.latency.max_ms} / ${result.latency.samples} / ${result.latency.missing_deliveries} / ${result.latency.command_errors}`],
    ['connect+join+subscribe s', String(result.connections.connect_join_subscribe_seconds)],
    ['server RSS per connection B', String(result.connections.server_rss_per_connection_bytes)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\ngateway-fanout\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n\n`);
}

// ---------------------------------------------------------------------------------------- load generator

interface Subscriber {
  socket: WebSocket;
  lastThroughput: number;
  lastLatency: number;
  latencyGaps: number;
  gaps: number;
  duplicates: number;
  received: number;
  runsSeen: Set<string>;
}

const UPDATE_WATERMARK = /"watermark":(\d+),"hydration_required"/g;
const RUN_DOC_KEY = /"doc_key":"run_summary:([^"]+)"/g;

async function loadgen(config: LoadgenConfig): Promise<void> {
  const send = (message: ToParent) => process.send!(message);
  const runSentAt = new Map<string, number>();
  const arrivals = new Map<string, number[]>(); // run id → receive times (possibly before the POST returned)
  let throughputDone: (() => void) | undefined;
  let completed = 0;
  const probeArrivals: number[][] = Array.from({ length: JOURNAL_PROBES }, () => []);

  const connectStart = performance.now();
  const subscribers: Subscriber[] = [];
  for (let i = 0; i < SUBSCRIBERS; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, SUBSCRIBERS - i) }, () => connectSubscriber()));
    subscribers.push(...batch);
  }
  const heartbeats = setInterval(() => {
    for (const s of subscribers) s.socket.send('[null,"hb","phoenix","heartbeat",{}]');
  }, 20_000);
  send({ type: 'ready', connectSeconds: (performance.now() - connectStart) / 1000 });

  // Throughput: the journal writer commits UPDATES rows as fast as it can; measure until every
  // subscriber has all of them.
  const db = await Database.connect({ url: config.databaseUrl, max: 2 });
  const text = 'x'.repeat(150);
  const allDelivered = new Promise<void>((resolve) => (throughputDone = resolve));
  const start = performance.now();
  for (let i = 0; i < UPDATES; i += ROWS_PER_TX) {
    await db.transaction(async (tx) => {
      const rows = Array.from({ length: Math.min(ROWS_PER_TX, UPDATES - i) }, (_, j) => ({
        topic: THROUGHPUT_TOPIC,
        orgId: config.orgId,
        docKey: `n:${i + j}`,
        docVersion: 1,
        encoded: encodeDocument({ n: i + j, text }),
      }));
      await appendJournalBatch(tx, rows);
      await notifyJournalAppended(tx);
    });
  }
  const writeSeconds = (performance.now() - start) / 1000;
  await allDelivered;
  const seconds = (performance.now() - start) / 1000;
  await db.close();
  send({
    type: 'throughput',
    seconds,
    writeSeconds,
    deliveries: subscribers.reduce((sum, s) => sum + s.received, 0),
    gaps: subscribers.reduce((sum, s) => sum + s.gaps, 0),
    duplicates: subscribers.reduce((sum, s) => sum + s.duplicates, 0),
  });

  // Journal commit → subscriber: the gateway's own share of the latency, one row per tick at RATE/s.
  const probeDb = await Database.connect({ url: config.databaseUrl, max: 1 });
  const probeSentAt: number[] = [];
  const probeStart = performance.now();
  for (let k = 0; k < JOURNAL_PROBES; k++) {
    const wait = probeStart + (k * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    probeSentAt[k] = performance.now();
    await probeDb.transaction(async (tx) => {
      await appendJournalBatch(tx, [{ topic: THROUGHPUT_TOPIC, orgId: config.orgId, docKey: `probe:${k}`, docVersion: 1, encoded: encodeDocument({ probe: k, text }) }]);
      await notifyJournalAppended(tx);
    });
  }
  await probeDb.close();
  const probeDeadline = performance.now() + 30_000;
  while (performance.now() < probeDeadline && probeArrivals.some((times) => times.length < SUBSCRIBERS)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const probeSamples = probeArrivals.flatMap((times, k) => times.map((at) => at - probeSentAt[k])).sort((a, b) => a - b);
  send({ type: 'journal_latency', ...summarize(probeSamples), missing: JOURNAL_PROBES * SUBSCRIBERS - probeSamples.length });

  // Latency: HTTP commands at a fixed rate; each subscriber's first update of the run is a sample.
  let commandErrors = 0;
  const posts: Promise<void>[] = [];
  const interval = 1000 / RATE;
  const t0 = performance.now();
  for (let i = 0; i < COMMANDS; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sentAt = performance.now();
    posts.push(
      fetch(`${config.runtimeUrl}/api/runtime/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ thread_id: `bench-${i}` }),
      }).then(
        async (response) => {
          if (response.status !== 201) {
            commandErrors++;
            return;
          }
          const { run_id: runId } = (await response.json()) as { run_id: string };
          runSentAt.set(runId, sentAt);
        },
        () => void commandErrors++,
      ),
    );
  }
  await Promise.all(posts);
  const expected = (COMMANDS - commandErrors) * SUBSCRIBERS;
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline && [...arrivals.values()].reduce((sum, times) => sum + times.length, 0) < expected) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const samples: number[] = [];
  for (const [runId, times] of arrivals) {
    const sentAt = runSentAt.get(runId);
    if (sentAt !== undefined) for (const at of times) samples.push(at - sentAt);
  }
  samples.sort((a, b) => a - b);
  clearInterval(heartbeats);
  send({
    type: 'latency',
    ...summarize(samples),
    missing: Math.max(0, expected - samples.length),
    commandErrors,
    gaps: subscribers.reduce((sum, s) => sum + s.latencyGaps, 0),
    minLastWatermark: Math.min(...subscribers.map((s) => s.lastLatency)),
  });
  for (const s of subscribers) s.socket.terminate();

  async function connectSubscriber(): Promise<Subscriber> {
    // The gateway sends valid UTF-8 JSON; skipping ws's JS UTF-8 check keeps the load generator cheap.
    const socket = new WebSocket(`${config.wsUrl}?token=${config.syncToken}&vsn=2.0.0`, { skipUTF8Validation: true });
    const subscriber: Subscriber = { socket, lastThroughput: 0, lastLatency: 0, latencyGaps: 0, gaps: 0, duplicates: 0, received: 0, runsSeen: new Set() };
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const subscribed = new Promise<void>((resolve, reject) => {
      socket.on('message', (data: Buffer) => {
        const frame = data.toString();
        if (frame.startsWith('["1","2"')) {
          if (frame.includes('"status":"ok"')) resolve();
          else reject(new Error(`subscribe failed: ${frame.slice(0, 300)}`));
          return;
        }
        if (!frame.includes('"sync:update_batch"')) return;
        const at = performance.now();
        if (frame.includes(`"topic":"${THROUGHPUT_TOPIC}"`)) {
          for (const match of frame.matchAll(UPDATE_WATERMARK)) {
            const watermark = Number(match[1]);
            if (watermark === subscriber.lastThroughput + 1) subscriber.received++;
            else if (watermark <= subscriber.lastThroughput) subscriber.duplicates++;
            else subscriber.gaps++;
            subscriber.lastThroughput = Math.max(subscriber.lastThroughput, watermark);
            if (watermark > UPDATES && watermark <= UPDATES + JOURNAL_PROBES) probeArrivals[watermark - UPDATES - 1].push(at);
            if (watermark === UPDATES && ++completed === SUBSCRIBERS) throughputDone?.();
          }
        } else {
          for (const match of frame.matchAll(UPDATE_WATERMARK)) {
            const watermark = Number(match[1]);
            if (watermark !== subscriber.lastLatency + 1) subscriber.latencyGaps++;
            subscriber.lastLatency = Math.max(subscriber.lastLatency, watermark);
          }
          for (const match of frame.matchAll(RUN_DOC_KEY)) {
            const runId = match[1];
            if (subscriber.runsSeen.has(runId)) continue;
            subscriber.runsSeen.add(runId);
            const times = arrivals.get(runId) ?? [];
            times.push(at);
            arrivals.set(runId, times);
          }
        }
      });
    });
    socket.send('["1","1","sync:v1","phx_join",{}]');
    socket.send(`["1","2","sync:v1","sync:subscribe",{"topics":["${THROUGHPUT_TOPIC}","${LATENCY_TOPIC}"]}]`);
    await subscribed;
    return subscriber;
  }
}

function summarize(sorted: number[]): { samples: number; p50: number; p90: number; p99: number; max: number } {
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
  return { samples: sorted.length, p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1] ?? NaN };
}

/** How many of the latency phase's runs reached the journal (and at which watermarks). */
async function journalCounts(
  databaseUrl: string,
  orgId: string,
): Promise<{ rows: number; distinct_docs: number; max_watermark: number; run_created_events: number; run_summaries: number }> {
  const db = await Database.connect({ url: databaseUrl, max: 1 });
  try {
    const { rows } = await db.query<{ rows: string; docs: string; max: string }>(
      `SELECT count(*) AS rows, count(DISTINCT doc_key) AS docs, coalesce(max(watermark), 0) AS max FROM khala.journal WHERE topic = 'runtime.run_summaries' AND org_id = $1`,
      [orgId],
    );
    const events = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM eventstore.events WHERE event_type = 'RunCreated' AND data->>'org_id' = $1`,
      [orgId],
    );
    const summaries = await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime.run_summaries WHERE org_id = $1', [orgId]);
    return {
      rows: Number(rows[0].rows),
      distinct_docs: Number(rows[0].docs),
      max_watermark: Number(rows[0].max),
      run_created_events: Number(events.rows[0].n),
      run_summaries: Number(summaries.rows[0].n),
    };
  } finally {
    await db.close();
  }
}

/** Where the end-to-end latency goes before the gateway: event append → journal row, per run. */
async function projectorPickup(databaseUrl: string, orgId: string): Promise<{ p50_ms: number; p99_ms: number } | null> {
  const db = await Database.connect({ url: databaseUrl, max: 1 });
  try {
    const { rows } = await db.query<{ ms: number }>(
      `SELECT extract(epoch FROM (j.committed_at - e.created_at)) * 1000 AS ms
         FROM khala.journal j JOIN eventstore.events e ON e.stream_id = 'run-' || substring(j.doc_key FROM 'run_summary:(.*)') AND e.revision = 0
        WHERE j.topic = 'runtime.run_summaries' AND j.org_id = $1 ORDER BY 1`,
      [orgId],
    );
    const values = rows.map((row) => Number(row.ms));
    if (values.length === 0) return null;
    const s = summarize(values);
    return { p50_ms: round(s.p50), p99_ms: round(s.p99) };
  } catch {
    return null;
  } finally {
    await db.close();
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (process.argv.includes('--loadgen')) {
  process.once('message', (config: LoadgenConfig) => {
    loadgen(config).catch((error: Error) => {
      process.send!({ type: 'error', message: error.stack ?? error.message });
    });
  });
} else {
  main().catch((error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
