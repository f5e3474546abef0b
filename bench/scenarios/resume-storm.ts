/**
 * resume-storm: N subscribers spread over T topics are live at watermark 10; every connection
 * drops; 100 more updates per topic are committed; then all reconnect at once (at most 200
 * handshakes in flight, the same for every system) resuming from their last watermark. The figure
 * is the time from the first reconnect until every subscriber holds update 110, with zero gaps.
 * Peer: NATS JetStream, one stream per topic, ordered consumers resuming at sequence last + 1.
 *
 *   npm run bench -- resume-storm [--smoke] [--subscribers=N] [--topics=T] [--updates=U]
 */
import { Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { benchDocument } from '../lib/gateway/documents';
import { sumIntegrity } from '../lib/gateway/integrity';
import { KhalaServer } from '../lib/gateway/khala-server';
import { KhalaSubscriber } from '../lib/gateway/khala-subscriber';
import { round, waitFor, withConcurrency } from '../lib/gateway/load';
import { NATS_MISSING_NOTE, NatsPeer, NatsSubscriber } from '../lib/peers/nats';

const TOPIC = 'runtime.notifications';
const BEFORE = 10;
const CONNECT_CONCURRENCY = 100;
const RECONNECT_CONCURRENCY = 200;
const TIMEOUT_MS = 300_000;

interface Sizes {
  subscribers: number;
  topics: number;
  updates: number;
}

const scenario: Scenario = {
  name: 'resume-storm',
  description: 'all subscribers reconnect at once with their watermarks after missing 100 updates per topic: khala vs NATS JetStream ordered consumers',
  options: { subscribers: { type: 'string' }, topics: { type: 'string' }, updates: { type: 'string' } },
  async run(options: ScenarioOptions): Promise<ScenarioResult> {
    const sizes: Sizes = {
      subscribers: options.args.integer('subscribers', options.smoke ? 50 : 5000),
      topics: options.args.integer('topics', options.smoke ? 2 : 10),
      updates: options.args.integer('updates', 100),
    };
    const notes: string[] = [];
    const measurements: Measurement[] = [await runKhala(options, sizes, notes)];
    const nats = await runNats(sizes);
    if (nats) measurements.push(nats);
    else notes.push(NATS_MISSING_NOTE);
    const ratios: Ratio[] = [];
    if (nats) {
      const value = measurements[0].figures.catch_up_s / nats.figures.catch_up_s;
      ratios.push({ label: 'time until all caught up, khala ÷ NATS', value, target: '<= 1.0', met: value <= 1 });
    }
    notes.push(
      `${sizes.subscribers} subscribers over ${sizes.topics} topics (khala: one org each; NATS: one stream each), ${BEFORE} updates before the drop, ${sizes.updates} per topic while disconnected; reconnects ≤ ${RECONNECT_CONCURRENCY} in flight for both`,
    );
    return { scenario: 'resume-storm', measurements, ratios, notes };
  },
};

export default scenario;

function figures(sizes: Sizes, seconds: number, reconnectSeconds: number): Record<string, number> {
  return {
    subscribers: sizes.subscribers,
    topics: sizes.topics,
    catch_up_s: round(seconds, 3),
    reconnect_s: round(reconnectSeconds, 3),
    replayed_updates_per_s: Math.round((sizes.subscribers * sizes.updates) / seconds),
  };
}

const topicOf = (index: number, sizes: Sizes) => index % sizes.topics;

async function runKhala(options: ScenarioOptions, sizes: Sizes, notes: string[]): Promise<Measurement> {
  const server = await KhalaServer.start({ databaseUrl: options.databaseUrl });
  let subscribers: KhalaSubscriber[] = [];
  const heartbeats = setInterval(() => subscribers.forEach((s) => s.heartbeat()), 20_000);
  try {
    notes.push(`khala store: ${server.endpoints.store}; ${server.process.pinning}`);
    const orgs = await server.tokens(
      Array.from({ length: sizes.topics }, (_, t) => `bench_storm_${t}`),
      [TOPIC],
    );
    const connect = (index: number, resumeAfter?: number) => {
      const subscriber = new KhalaSubscriber({ wsUrl: server.endpoints.wsUrl, token: orgs[topicOf(index, sizes)].syncToken, topic: TOPIC, resumeAfter });
      return subscriber.connect().then(() => subscriber);
    };
    subscribers = await withConcurrency(sizes.subscribers, CONNECT_CONCURRENCY, (i) => connect(i));
    await Promise.all(orgs.map(({ orgId }) => server.publish({ orgId, topic: TOPIC, first: 1, count: BEFORE, rowsPerTx: 10 })));
    if (!(await waitFor(() => subscribers.every((s) => s.check.last >= BEFORE), TIMEOUT_MS))) throw new Error('khala: live updates before the drop not delivered');
    const watermarks = subscribers.map((s) => s.check.last);
    for (const s of subscribers) s.terminate();
    await Promise.all(orgs.map(({ orgId }) => server.publish({ orgId, topic: TOPIC, first: BEFORE + 1, count: sizes.updates, rowsPerTx: 10 })));
    const last = BEFORE + sizes.updates;
    const start = performance.now();
    subscribers = await withConcurrency(sizes.subscribers, RECONNECT_CONCURRENCY, (i) => connect(i, watermarks[i]));
    const reconnectSeconds = (performance.now() - start) / 1000;
    await waitFor(() => subscribers.every((s) => s.check.last >= last), TIMEOUT_MS, 2);
    const seconds = (performance.now() - start) / 1000;
    return {
      system: 'khala',
      variant: `subscribers=${sizes.subscribers}`,
      figures: figures(sizes, seconds, reconnectSeconds),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(last))),
    };
  } finally {
    clearInterval(heartbeats);
    for (const s of subscribers) s.terminate();
    await server.stop();
  }
}

async function runNats(sizes: Sizes): Promise<Measurement | undefined> {
  const peer = await NatsPeer.start();
  if (!peer) return undefined;
  let subscribers: NatsSubscriber[] = [];
  try {
    const streams = Array.from({ length: sizes.topics }, (_, t) => ({ stream: `STORM_${t}`, subject: `bench.storm.${t}` }));
    for (const { stream, subject } of streams) await peer.createStream(stream, subject);
    const connect = async (index: number, startAfter?: number) => {
      const subscriber = peer.subscriber({ ...streams[topicOf(index, sizes)], startAfter });
      await subscriber.connect();
      return subscriber;
    };
    const encoder = new TextEncoder();
    const publish = (first: number, count: number) =>
      Promise.all(
        streams.map(async ({ subject }) => {
          for (let n = first; n < first + count; n++) await peer.publish(subject, encoder.encode(benchDocument(n)));
        }),
      );
    subscribers = await withConcurrency(sizes.subscribers, CONNECT_CONCURRENCY, (i) => connect(i));
    await publish(1, BEFORE);
    if (!(await waitFor(() => subscribers.every((s) => s.check.last >= BEFORE), TIMEOUT_MS))) throw new Error('NATS: live updates before the drop not delivered');
    const sequences = subscribers.map((s) => s.check.last);
    await Promise.all(subscribers.map((s) => s.terminate()));
    await publish(BEFORE + 1, sizes.updates);
    const last = BEFORE + sizes.updates;
    const start = performance.now();
    subscribers = await withConcurrency(sizes.subscribers, RECONNECT_CONCURRENCY, (i) => connect(i, sequences[i]));
    const reconnectSeconds = (performance.now() - start) / 1000;
    await waitFor(() => subscribers.every((s) => s.check.last >= last), TIMEOUT_MS, 2);
    const seconds = (performance.now() - start) / 1000;
    return {
      system: 'nats',
      variant: `subscribers=${sizes.subscribers}`,
      figures: figures(sizes, seconds, reconnectSeconds),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(last))),
    };
  } finally {
    await Promise.all(subscribers.map((s) => s.terminate()));
    await peer.stop();
  }
}
