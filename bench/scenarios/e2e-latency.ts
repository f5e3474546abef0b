/**
 * e2e-latency: command accepted → update received by every subscriber of the topic, at 200
 * commands/s (open loop: latency counts from each command's intended send time, so a stall is
 * not hidden by sending later) with 1, 100 and 1,000 subscribers. Ours: HTTP POST
 * /api/runtime/runs → event store → projector → journal → gateway → WebSocket, the first update of
 * each run's summary. Peer: NATS JetStream publish (TCP, acked) → ordered push consumers over
 * WebSocket, the same document size, rate and fan-out. HDR histograms (µs resolution).
 *
 *   npm run bench -- e2e-latency [--smoke] [--fanouts=1,100,1000] [--rate=200] [--seconds=10]
 */
import { LatencyHistogram } from '../lib/histogram';
import { Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { intArg, listArg } from '../lib/gateway/args';
import { benchDocument } from '../lib/gateway/documents';
import { sumIntegrity } from '../lib/gateway/integrity';
import { KhalaServer } from '../lib/gateway/khala-server';
import { KhalaSubscriber } from '../lib/gateway/khala-subscriber';
import { openLoop, round, sleep, waitFor, withConcurrency } from '../lib/gateway/load';
import { NATS_MISSING_NOTE, NatsPeer, NatsSubscriber } from '../lib/peers/nats';

const TOPIC = 'runtime.run_summaries';
const CONNECT_CONCURRENCY = 100;
const DRAIN_TIMEOUT_MS = 60_000;

interface Level {
  fanout: number;
  rate: number;
  commands: number;
}

const scenario: Scenario = {
  name: 'e2e-latency',
  description: 'command accepted → update at every subscriber, p50/p99 at 200 commands/s with 1/100/1000 subscribers: khala vs NATS JetStream over WebSocket',
  async run(options: ScenarioOptions): Promise<ScenarioResult> {
    const rate = intArg(options.args, 'rate', 200);
    const seconds = intArg(options.args, 'seconds', options.smoke ? 1 : 10);
    const levels = listArg(options.args, 'fanouts', options.smoke ? [1, 10] : [1, 100, 1000]).map((fanout) => ({ fanout, rate, commands: rate * seconds }));
    const notes: string[] = [];
    const measurements: Measurement[] = [...(await runKhala(options, levels, notes))];
    const peer = await NatsPeer.start();
    if (peer) {
      try {
        for (const level of levels) measurements.push(await runNats(peer, level));
      } finally {
        await peer.stop();
      }
    } else notes.push(NATS_MISSING_NOTE);

    const ratios: Ratio[] = [];
    const top = levels[levels.length - 1].fanout;
    const ours = measurements.find((m) => m.system === 'khala' && m.figures.subscribers === top)!;
    const theirs = measurements.find((m) => m.system === 'nats' && m.figures.subscribers === top);
    if (theirs) {
      const value = ours.figures.p99_ms / theirs.figures.p99_ms;
      ratios.push({ label: `p99 at fan-out ${top}, khala ÷ NATS`, value, target: '<= 1.0', met: value <= 1 });
    }
    ratios.push({ label: `khala p99 ms at fan-out ${top}`, value: ours.figures.p99_ms, target: '<= 50', met: ours.figures.p99_ms <= 50 });
    notes.push(
      `${seconds} s at ${rate}/s per fan-out level; khala latency is from the intended send time of the HTTP command to each subscriber's receipt of the run summary's first update; NATS from the intended publish time to each ordered consumer's receipt`,
      "khala-gateway: the gateway's share alone, journal row committed by the server process at the same rate (one row per transaction, with NOTIFY) → each subscriber; latency from the intended commit time",
      'khala columns command_p50/p99_ms: intended send → HTTP 201; pickup_p50/p99_ms: event created_at → journal row committed_at (projector, transaction start times)',
    );
    return { scenario: 'e2e-latency', measurements, ratios, notes };
  },
};

export default scenario;

function latencyFigures(level: Level, histogram: LatencyHistogram, expected: number, errors: number, achievedRate: number): Record<string, number> {
  const s = histogram.summary();
  return {
    subscribers: level.fanout,
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

async function runKhala(options: ScenarioOptions, levels: Level[], notes: string[]): Promise<Measurement[]> {
  const server = await KhalaServer.start({ databaseUrl: options.databaseUrl });
  const results: Measurement[] = [];
  try {
    notes.push(`khala store: ${server.endpoints.store}; ${server.process.pinning}`);
    // Gateway-only levels first: a full-path level can leave the projector a backlog that would
    // load the database under the next level.
    for (const level of levels) results.push(await gatewayLevel(server, level));
    for (const level of levels) results.push(await khalaLevel(server, level));
  } finally {
    await server.stop();
  }
  return results;
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
    if (process.env.BENCH_STATEMENTS) {
      for (const [text, count] of (await server.statements()).slice(0, 25)) process.stderr.write(`  ${(count / level.commands).toFixed(2)}/cmd  ${text}\n`);
    }
    const runtimePool = pools.filter((p) => p.pool === 'khala-runtime').sort((a, b) => b.samples - a.samples)[0];
    const command = commandLatency.summary();
    return {
      system: 'khala',
      variant: `subscribers=${level.fanout}`,
      figures: {
        ...latencyFigures(level, histogram, accepted * level.fanout, errors, achievedRate),
        command_p50_ms: command.p50_ms,
        command_p99_ms: command.p99_ms,
        pickup_p50_ms: pct(50),
        pickup_p99_ms: pct(99),
        runtime_pool_peak_waiting: runtimePool?.peakWaiting ?? NaN,
        runtime_pool_pct_time_waiting: runtimePool ? round((100 * runtimePool.samplesWaiting) / runtimePool.samples, 1) : NaN,
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
      variant: `subscribers=${level.fanout}`,
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
      variant: `subscribers=${level.fanout}`,
      figures: latencyFigures(level, histogram, (level.commands - errors) * level.fanout, errors, achievedRate),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(level.commands - errors))),
    };
  } finally {
    await Promise.all(subscribers.map((s) => s.terminate()));
    await peer.deleteStream(stream);
  }
}
