/**
 * e2e-latency: command accepted → update received by every subscriber of the topic, at 200
 * commands/s (open loop: latency counts from each command's intended send time, so a stall is
 * not hidden by sending later) with 1, 100 and 1,000 subscribers. Ours: HTTP POST
 * /api/runtime/runs → event store → projector → journal → gateway → WebSocket, the first update of
 * each run's summary. Peer: NATS JetStream publish (TCP, acked) → ordered push consumers over
 * WebSocket, the same document size, rate and fan-out. HDR histograms (µs resolution).
 *
 *   npm run bench -- e2e-latency [--smoke] [--fanouts=1,100,1000] [--rate=200] [--seconds=10]
 *   npm run bench -- e2e-latency --curve [--rates=50,100,200,400,800] [--fanouts=1,100]   # latency vs rate
 *   … [--layout=worker]   # runtime's projectors in a projector-worker process of their own
 */
import { LatencyHistogram } from '../lib/histogram';
import { Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { benchDocument } from '../lib/gateway/documents';
import { sumIntegrity } from '../lib/gateway/integrity';
import { KhalaServer } from '../lib/gateway/khala-server';
import { KhalaSubscriber } from '../lib/gateway/khala-subscriber';
import { openLoop, round, sleep, waitFor, withConcurrency } from '../lib/gateway/load';
import { NATS_MISSING_NOTE, NatsPeer, NatsSubscriber } from '../lib/peers/nats';

const TOPIC = 'runtime.run_summaries';
const CONNECT_CONCURRENCY = 100;
const DRAIN_TIMEOUT_MS = 60_000;
const CURVE_RATES = [50, 100, 200, 400, 800];
/** The goal's latency bound: the curve's headline is the highest rate whose p99 stays within it. */
const P99_BOUND_MS = 50;
/** Unmeasured commands before the first level (see warmUp), at a rate a cold server keeps up with. */
const WARM_UP_COMMANDS = 1000;
const WARM_UP_RATE = 100;

interface Level {
  fanout: number;
  rate: number;
  commands: number;
}

const scenario: Scenario = {
  name: 'e2e-latency',
  description: 'command accepted → update at every subscriber, p50/p99 at 200 commands/s with 1/100/1000 subscribers: khala vs NATS JetStream over WebSocket',
  options: {
    curve: { type: 'boolean' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    rates: { type: 'string' },
    fanouts: { type: 'string' },
    layout: { type: 'string' },
  },
  async run(options: ScenarioOptions): Promise<ScenarioResult> {
    const { args } = options;
    const curve = args.flag('curve');
    const seconds = args.integer('seconds', options.smoke ? 1 : 10);
    const rates = curve ? args.integers('rates', options.smoke ? [20, 40] : CURVE_RATES) : [args.integer('rate', 200)];
    const fanouts = args.integers('fanouts', options.smoke ? [1, 10] : curve ? [1, 100] : [1, 100, 1000]);
    const layout = args.choice('layout', ['all-in-one', 'worker'] as const, 'all-in-one');
    const levels = rates.flatMap((rate) => fanouts.map((fanout) => ({ fanout, rate, commands: rate * seconds })));
    const notes: string[] = [];
    const measurements: Measurement[] = [...(await runKhala(options, levels, notes, { gatewayOnly: !curve, layout }))];
    const peer = await NatsPeer.start();
    if (peer) {
      try {
        for (const level of levels) measurements.push(await runNats(peer, level));
      } finally {
        await peer.stop();
      }
    } else notes.push(NATS_MISSING_NOTE);

    const ratios: Ratio[] = curve ? curveHeadlines(measurements, fanouts) : headlineRatios(measurements, fanouts);
    notes.push(
      `${seconds} s per level (rate × fan-out); layout: ${layout === 'worker' ? "runtime's projectors in a projector-worker process of their own (not pinned)" : 'all-in-one (projectors inside the pinned server process)'}; khala latency is from the intended send time of the HTTP command to each subscriber's receipt of the run summary's first update; NATS from the intended publish time to each ordered consumer's receipt`,
      `before the first measured level the server gets ${WARM_UP_COMMANDS} unmeasured commands at ${WARM_UP_RATE}/s (a cold server spent the first level warming up)`,
      'khala columns command_p50/p99_ms: intended send → HTTP 201; pickup_p50/p99_ms: event created_at → journal row committed_at (projector, transaction start times); loop_p99_ms/loop_max_ms: event-loop delay of the server process during the level; stmts_per_cmd: statements sent by the server process per command (all pools, transactions included); commits_per_cmd: transactions committed in its database per command',
    );
    if (!curve) notes.push("khala-gateway: the gateway's share alone, journal row committed by the server process at the same rate (one row per transaction, with NOTIFY) → each subscriber; latency from the intended commit time");
    return { scenario: curve ? 'e2e-latency-curve' : 'e2e-latency', measurements, ratios, notes };
  },
};

function headlineRatios(measurements: Measurement[], fanouts: number[]): Ratio[] {
  const ratios: Ratio[] = [];
  const top = fanouts[fanouts.length - 1];
  const ours = measurements.find((m) => m.system === 'khala' && m.figures.subscribers === top)!;
  const theirs = measurements.find((m) => m.system === 'nats' && m.figures.subscribers === top);
  if (theirs) {
    const value = ours.figures.p99_ms / theirs.figures.p99_ms;
    ratios.push({ label: `p99 at fan-out ${top}, khala ÷ NATS`, value, target: '<= 1.0', met: value <= 1 });
  }
  for (const fanout of fanouts.filter((f) => f <= 100)) {
    const level = measurements.find((m) => m.system === 'khala' && m.figures.subscribers === fanout);
    if (!level) continue;
    ratios.push({ label: `khala p99 ms at fan-out ${fanout}`, value: level.figures.p99_ms, target: `<= ${P99_BOUND_MS}`, met: level.figures.p99_ms <= P99_BOUND_MS });
    ratios.push({ label: `khala p50 ms at fan-out ${fanout}`, value: level.figures.p50_ms, target: '<= 10', met: level.figures.p50_ms <= 10 });
  }
  return ratios;
}

/** "Highest rate with p99 ≤ 50 ms" per system and fan-out (0 when even the lowest rate misses it). */
function curveHeadlines(measurements: Measurement[], fanouts: number[]): Ratio[] {
  const ratios: Ratio[] = [];
  for (const system of ['khala', 'nats']) {
    for (const fanout of fanouts) {
      const levels = measurements.filter((m) => m.system === system && m.figures.subscribers === fanout);
      if (!levels.length) continue;
      const within = levels.filter((m) => m.figures.p99_ms <= P99_BOUND_MS && m.figures.missing === 0).map((m) => m.figures.target_rate_per_s);
      const value = within.length ? Math.max(...within) : 0;
      ratios.push({ label: `${system}: highest rate with p99 ≤ ${P99_BOUND_MS} ms, fan-out ${fanout} (commands/s)`, value, target: '>= 200', met: value >= 200 });
    }
  }
  return ratios;
}

export default scenario;

function latencyFigures(level: Level, histogram: LatencyHistogram, expected: number, errors: number, achievedRate: number): Record<string, number> {
  const s = histogram.summary();
  return {
    subscribers: level.fanout,
    target_rate_per_s: level.rate,
    rate_per_s: round(achievedRate, 1),
    samples: s.count,
    missing: Math.max(0, expected - s.count),
    errors,
    p50_ms: s.p50_ms,
    p90_ms: s.p90_ms,
    p99_ms: s.p99_ms,
    p999_ms: s.p999_ms,
    max_ms: s.max_ms,
  };
}

async function runKhala(options: ScenarioOptions, levels: Level[], notes: string[], run: { gatewayOnly: boolean; layout: 'all-in-one' | 'worker' }): Promise<Measurement[]> {
  const server = await KhalaServer.start({ databaseUrl: options.databaseUrl, layout: run.layout });
  const results: Measurement[] = [];
  try {
    notes.push(`khala store: ${server.endpoints.store}; ${server.process.pinning}`);
    // Gateway-only levels first: a full-path level can leave the projector a backlog that would
    // load the database under the next level.
    if (run.gatewayOnly) for (const level of levels) results.push(await gatewayLevel(server, level));
    await warmUp(server, options.smoke ? 20 : WARM_UP_COMMANDS);
    for (const level of levels) results.push(await khalaLevel(server, level));
  } finally {
    await server.stop();
  }
  return results;
}

/**
 * Commands at a low rate before the first measured level, not measured: a cold server (JIT, lazily
 * loaded modules, per-connection prepared statements, first pool connections) spent the first
 * level's seconds warming up and carried that queue through the level.
 */
async function warmUp(server: KhalaServer, commands: number): Promise<void> {
  const [{ accessToken }] = await server.tokens([`bench_e2e_warmup_${Date.now()}`], [TOPIC]);
  const posts: Promise<unknown>[] = [];
  await openLoop(commands, WARM_UP_RATE, (i) => {
    posts.push(
      fetch(`${server.endpoints.runtimeUrl}/api/runtime/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ thread_id: `warm-up-${i}` }),
      }).then((response) => response.text()),
    );
  });
  await Promise.all(posts);
}

async function khalaLevel(server: KhalaServer, level: Level): Promise<Measurement> {
  const [{ orgId, syncToken, accessToken }] = await server.tokens([`bench_e2e_${level.fanout}_${Date.now()}`], [TOPIC]);
  const histogram = new LatencyHistogram();
  const commandLatency = new LatencyHistogram();
  const dueByRun = new Map<string, number>();
  /** The watermark of each run's first summary row: a subscriber's sample is that row's arrival. */
  const firstWatermark = new Map<string, number>();
  const early = new Map<string, number[]>();
  const onUpdate = (_s: KhalaSubscriber, watermark: number, at: number, docKey?: string) => {
    if (!docKey?.startsWith('run_summary:')) return;
    const runId = docKey.slice('run_summary:'.length);
    const first = firstWatermark.get(runId);
    if (first === undefined) firstWatermark.set(runId, watermark);
    else if (first !== watermark) return;
    const due = dueByRun.get(runId);
    if (due !== undefined) histogram.recordMs(at - due);
    else early.set(runId, [...(early.get(runId) ?? []), at]);
  };
  const subscribers = await withConcurrency(level.fanout, CONNECT_CONCURRENCY, async () => {
    const subscriber = new KhalaSubscriber({ wsUrl: server.endpoints.wsUrl, token: syncToken, topic: TOPIC, onUpdate, wantDocKeys: true });
    await subscriber.connect();
    return subscriber;
  });
  const heartbeats = setInterval(() => subscribers.forEach((s) => s.heartbeat()), 20_000);
  try {
    let errors = 0;
    let accepted = 0;
    await server.poolPressure();
    await server.statements();
    await server.loopDelay();
    const commitsBefore = await server.commits();
    const posts: Promise<void>[] = [];
    const started = performance.now();
    await openLoop(level.commands, level.rate, (i, due) => {
      posts.push(
        fetch(`${server.endpoints.runtimeUrl}/api/runtime/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ thread_id: `bench-${i}` }),
        }).then(
          async (response) => {
            if (response.status !== 201) {
              errors++;
              await response.text();
              return;
            }
            const { run_id: runId } = (await response.json()) as { run_id: string };
            commandLatency.recordMs(performance.now() - due);
            accepted++;
            dueByRun.set(runId, due);
            for (const at of early.get(runId) ?? []) histogram.recordMs(at - due);
            early.delete(runId);
          },
          () => void errors++,
        ),
      );
    });
    const achievedRate = level.commands / ((performance.now() - started) / 1000);
    await Promise.all(posts);
    await waitFor(() => histogram.count >= accepted * level.fanout, DRAIN_TIMEOUT_MS, 5);
    await sleep(100);
    const pickup = (await server.projectorPickup(orgId)).sort((a, b) => a - b);
    const pct = (p: number) => (pickup.length ? round(pickup[Math.min(pickup.length - 1, Math.floor((p / 100) * pickup.length))], 1) : NaN);
    const lastWatermark = Math.max(0, ...subscribers.map((s) => s.check.last));
    const pools = await server.poolPressure();
    const loop = await server.loopDelay();
    const statements = await server.statements();
    // pg_stat_database is flushed by each backend about once a second: wait for the last flush.
    await sleep(1100);
    const commits = (await server.commits()) - commitsBefore;
    if (process.env.BENCH_STATEMENTS) {
      process.stderr.write(`  rate ${level.rate}/s, fan-out ${level.fanout}:\n`);
      for (const [text, count] of statements.slice(0, 30)) process.stderr.write(`  ${(count / level.commands).toFixed(2)}/cmd  ${text}\n`);
    }
    const runtimePool = pools.filter((p) => p.pool === 'khala-runtime').sort((a, b) => b.samples - a.samples)[0];
    const command = commandLatency.summary();
    return {
      system: 'khala',
      variant: `${level.rate}/s, subscribers=${level.fanout}`,
      figures: {
        ...latencyFigures(level, histogram, accepted * level.fanout, errors, achievedRate),
        command_p50_ms: command.p50_ms,
        command_p99_ms: command.p99_ms,
        pickup_p50_ms: pct(50),
        pickup_p99_ms: pct(99),
        runtime_pool_peak_waiting: runtimePool?.peakWaiting ?? NaN,
        runtime_pool_pct_time_waiting: runtimePool ? round((100 * runtimePool.samplesWaiting) / runtimePool.samples, 1) : NaN,
        loop_p99_ms: loop.p99_ms,
        loop_max_ms: loop.max_ms,
        stmts_per_cmd: round(statements.reduce((sum, [, count]) => sum + count, 0) / level.commands, 2),
        commits_per_cmd: round(commits / level.commands, 2),
      },
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(lastWatermark))),
    };
  } finally {
    clearInterval(heartbeats);
    for (const s of subscribers) s.terminate();
  }
}

/**
 * The gateway's share alone: a journal row committed (one per transaction, the projector's NOTIFY
 * included) at the same rate → every subscriber. Reported as system 'khala-gateway'.
 */
async function gatewayLevel(server: KhalaServer, level: Level): Promise<Measurement> {
  const topic = 'runtime.notifications';
  const [{ orgId, syncToken }] = await server.tokens([`bench_e2e_gw_${level.fanout}_${Date.now()}`], [topic]);
  const histogram = new LatencyHistogram();
  const due: number[] = [];
  const onUpdate = (_s: KhalaSubscriber, _watermark: number, at: number, docKey?: string) => {
    const n = Number(docKey?.slice('bench:'.length));
    if (due[n] !== undefined) histogram.recordMs(at - due[n]);
  };
  const subscribers = await withConcurrency(level.fanout, CONNECT_CONCURRENCY, async () => {
    const subscriber = new KhalaSubscriber({ wsUrl: server.endpoints.wsUrl, token: syncToken, topic, onUpdate, wantDocKeys: true });
    await subscriber.connect();
    return subscriber;
  });
  const heartbeats = setInterval(() => subscribers.forEach((s) => s.heartbeat()), 20_000);
  try {
    let errors = 0;
    const writes: Promise<void>[] = [];
    const started = performance.now();
    await openLoop(level.commands, level.rate, (i, dueAt) => {
      due[i + 1] = dueAt;
      writes.push(server.publish({ orgId, topic, first: i + 1, count: 1, rowsPerTx: 1 }).catch(() => void errors++));
    });
    const achievedRate = level.commands / ((performance.now() - started) / 1000);
    await Promise.all(writes);
    const expected = (level.commands - errors) * level.fanout;
    await waitFor(() => histogram.count >= expected, DRAIN_TIMEOUT_MS, 5);
    return {
      system: 'khala-gateway',
      variant: `${level.rate}/s, subscribers=${level.fanout}`,
      figures: latencyFigures(level, histogram, expected, errors, achievedRate),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(level.commands - errors))),
    };
  } finally {
    clearInterval(heartbeats);
    for (const s of subscribers) s.terminate();
  }
}

async function runNats(peer: NatsPeer, level: Level): Promise<Measurement> {
  const stream = `E2E_${level.fanout}`;
  const subject = `bench.e2e.${level.fanout}`;
  await peer.createStream(stream, subject);
  const histogram = new LatencyHistogram();
  const due: number[] = [];
  const early = new Map<number, number[]>();
  const onMessage = (_s: NatsSubscriber, sequence: number, at: number) => {
    const intended = due[sequence - 1];
    if (intended !== undefined) histogram.recordMs(at - intended);
    else early.set(sequence, [...(early.get(sequence) ?? []), at]);
  };
  const subscribers = await withConcurrency(level.fanout, CONNECT_CONCURRENCY, async () => {
    const subscriber = peer.subscriber({ stream, subject, onMessage });
    await subscriber.connect();
    return subscriber;
  });
  try {
    let errors = 0;
    const encoder = new TextEncoder();
    const publishes: Promise<void>[] = [];
    const started = performance.now();
    // One publisher connection in order: message i gets stream sequence i + 1.
    await openLoop(level.commands, level.rate, (i, dueAt) => {
      due[i] = dueAt;
      for (const at of early.get(i + 1) ?? []) histogram.recordMs(at - dueAt);
      early.delete(i + 1);
      publishes.push(peer.publish(subject, encoder.encode(benchDocument(i + 1))).then(() => undefined, () => void errors++));
    });
    const achievedRate = level.commands / ((performance.now() - started) / 1000);
    await Promise.all(publishes);
    await waitFor(() => histogram.count >= (level.commands - errors) * level.fanout, DRAIN_TIMEOUT_MS, 5);
    return {
      system: 'nats',
      variant: `${level.rate}/s, subscribers=${level.fanout}`,
      figures: latencyFigures(level, histogram, (level.commands - errors) * level.fanout, errors, achievedRate),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(level.commands - errors))),
    };
  } finally {
    await Promise.all(subscribers.map((s) => s.terminate()));
    await peer.deleteStream(stream);
  }
}
