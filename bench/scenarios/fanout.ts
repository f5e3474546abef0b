/**
 * fanout: maximum sustained deliveries/s of ~200-byte updates to N WebSocket subscribers of one
 * topic, with the server's CPU and RSS per connection. Ours: journal rows committed (10 per
 * transaction, as fast as the writer goes) → gateway → every subscriber. Peers in the same run:
 * raw `ws` broadcasting the same document bytes (the transport ceiling) and NATS JetStream
 * ordered consumers over WebSocket. Each system gets a warm-up of 10 updates first; the figure is
 * subscribers × updates ÷ (first write → last subscriber has everything).
 *
 *   npm run bench -- fanout [--smoke] [--subscribers=N] [--updates=N]
 */
import { Measurement, NO_VIOLATIONS, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { sumIntegrity } from '../lib/gateway/integrity';
import { KhalaServer } from '../lib/gateway/khala-server';
import { KhalaSubscriber } from '../lib/gateway/khala-subscriber';
import { round, waitFor, withConcurrency } from '../lib/gateway/load';
import { cpuSecondsBetween } from '../lib/gateway/processes';
import { benchDocument } from '../lib/gateway/documents';
import { NATS_MISSING_NOTE, NatsPeer } from '../lib/peers/nats';
import { RawWsClient, RawWsServer } from '../lib/peers/raw-ws';

const TOPIC = 'runtime.notifications';
const WARMUP = 10;
/** Our writer commits this many rows per transaction; the raw ws ceiling sends the same grouping per message. */
const ROWS_PER_COMMIT = 10;
const CONNECT_CONCURRENCY = 100;
const DELIVERY_TIMEOUT_MS = 180_000;

interface Sizes {
  subscribers: number;
  updates: number;
}

const scenario: Scenario = {
  name: 'fanout',
  description: 'deliveries/s of 200-byte updates to N WebSocket subscribers of one topic: khala vs raw ws vs NATS JetStream over WebSocket',
  options: { subscribers: { type: 'string' }, updates: { type: 'string' } },
  async run(options: ScenarioOptions): Promise<ScenarioResult> {
    const sizes: Sizes = {
      subscribers: options.args.integer('subscribers', options.smoke ? 50 : 5000),
      updates: options.args.integer('updates', options.smoke ? 50 : 200),
    };
    const measurements: Measurement[] = [];
    const notes: string[] = [];
    measurements.push(await runKhala(options, sizes, notes));
    measurements.push(await runRawWs(sizes, ROWS_PER_COMMIT));
    measurements.push(await runRawWs(sizes, 1));
    const nats = await runNats(sizes);
    if (nats) measurements.push(nats);
    else notes.push(NATS_MISSING_NOTE);

    const rate = (system: string) => measurements.find((m) => m.system === system)?.figures.deliveries_per_s;
    const ratios: Ratio[] = [];
    const ours = rate('khala')!;
    const raw = measurements.find((m) => m.system === 'raw-ws' && m.variant.endsWith(`per_message=${ROWS_PER_COMMIT}`))!.figures.deliveries_per_s;
    ratios.push({ label: `deliveries/s, khala ÷ raw ws (${ROWS_PER_COMMIT} updates/message)`, value: ours / raw, target: '>= 0.7', met: ours / raw >= 0.7 });
    const natsRate = rate('nats');
    if (natsRate) ratios.push({ label: 'deliveries/s, khala ÷ NATS', value: ours / natsRate, target: '>= 1.0', met: ours / natsRate >= 1.0 });
    notes.push(
      `${sizes.subscribers} subscribers × ${sizes.updates} updates of a ${benchDocument(1).length}-byte document; khala wraps each in its update envelope (topic, doc_key, payload_hash, watermark) and batches the rows of a commit (${ROWS_PER_COMMIT}) into one frame; the raw ws ceiling the ratio uses sends the same ${ROWS_PER_COMMIT} documents per message (a JSON array), the per_message=1 row and NATS one message per update`,
      'server CPU is the server process only (for khala it includes the journal writer, which runs in the server process); Postgres is not counted',
    );
    return { scenario: 'fanout', measurements, ratios, notes };
  },
};

export default scenario;

function figures(sizes: Sizes, seconds: number, cpuSeconds: number, rssPerConnection: number): Record<string, number> {
  const deliveries = sizes.subscribers * sizes.updates;
  return {
    subscribers: sizes.subscribers,
    deliveries,
    seconds: round(seconds, 3),
    deliveries_per_s: Math.round(deliveries / seconds),
    server_cpu_s: round(cpuSeconds, 3),
    server_cpu_us_per_delivery: round((cpuSeconds * 1e6) / deliveries, 3),
    server_rss_kib_per_conn: round(rssPerConnection / 1024, 1),
  };
}

async function runKhala(options: ScenarioOptions, sizes: Sizes, notes: string[]): Promise<Measurement> {
  const server = await KhalaServer.start({ databaseUrl: options.databaseUrl });
  const subscribers: KhalaSubscriber[] = [];
  try {
    notes.push(`khala store: ${server.endpoints.store}; ${server.process.pinning}`);
    const [{ orgId, syncToken }] = await server.tokens(['bench_fanout'], [TOPIC]);
    const before = await server.stats(true);
    subscribers.push(
      ...(await withConcurrency(sizes.subscribers, CONNECT_CONCURRENCY, async () => {
        const subscriber = new KhalaSubscriber({ wsUrl: server.endpoints.wsUrl, token: syncToken, topic: TOPIC });
        await subscriber.connect();
        return subscriber;
      })),
    );
    const connected = await server.stats(true);
    await server.publish({ orgId, topic: TOPIC, first: 1, count: WARMUP, rowsPerTx: ROWS_PER_COMMIT });
    if (!(await waitFor(() => subscribers.every((s) => s.check.last >= WARMUP), DELIVERY_TIMEOUT_MS))) throw new Error('khala warm-up not delivered');
    const cpuBefore = await server.stats();
    const start = performance.now();
    await server.publish({ orgId, topic: TOPIC, first: WARMUP + 1, count: sizes.updates, rowsPerTx: ROWS_PER_COMMIT });
    const last = WARMUP + sizes.updates;
    await waitFor(() => subscribers.every((s) => s.check.last >= last), DELIVERY_TIMEOUT_MS, 2);
    const seconds = (performance.now() - start) / 1000;
    const cpuAfter = await server.stats();
    return {
      system: 'khala',
      variant: `subscribers=${sizes.subscribers}`,
      figures: figures(sizes, seconds, cpuSecondsBetween(cpuBefore, cpuAfter), (connected.rss - before.rss) / sizes.subscribers),
      integrity: sumIntegrity(subscribers.map((s) => s.check.integrity(last))),
    };
  } finally {
    for (const s of subscribers) s.terminate();
    await server.stop();
  }
}

async function runRawWs(sizes: Sizes, perMessage: number): Promise<Measurement> {
  const server = await RawWsServer.start();
  const clients: RawWsClient[] = [];
  try {
    const before = await server.stats(true);
    clients.push(
      ...(await withConcurrency(sizes.subscribers, CONNECT_CONCURRENCY, async () => {
        const client = new RawWsClient(server.url);
        await client.connect();
        return client;
      })),
    );
    const connected = await server.stats(true);
    await server.broadcast(1, WARMUP);
    if (!(await waitFor(() => clients.every((c) => c.check.last >= WARMUP), DELIVERY_TIMEOUT_MS))) throw new Error('raw ws warm-up not delivered');
    const cpuBefore = await server.stats();
    const start = performance.now();
    await server.broadcast(WARMUP + 1, sizes.updates, perMessage);
    const last = WARMUP + sizes.updates;
    await waitFor(() => clients.every((c) => c.check.last >= last), DELIVERY_TIMEOUT_MS, 2);
    const seconds = (performance.now() - start) / 1000;
    const cpuAfter = await server.stats();
    return {
      system: 'raw-ws',
      variant: `subscribers=${sizes.subscribers} per_message=${perMessage}`,
      figures: figures(sizes, seconds, cpuSecondsBetween(cpuBefore, cpuAfter), (connected.rss - before.rss) / sizes.subscribers),
      integrity: sumIntegrity(clients.map((c) => c.check.integrity(last))),
    };
  } finally {
    for (const c of clients) c.terminate();
    await server.stop();
  }
}

async function runNats(sizes: Sizes): Promise<Measurement | undefined> {
  const peer = await NatsPeer.start();
  if (!peer) return undefined;
  const subscribers: Awaited<ReturnType<NatsPeer['subscriber']>>[] = [];
  try {
    const stream = 'FANOUT';
    const subject = 'bench.fanout';
    await peer.createStream(stream, subject);
    const before = peer.stats();
    subscribers.push(
      ...(await withConcurrency(sizes.subscribers, CONNECT_CONCURRENCY, async () => {
        const subscriber = peer.subscriber({ stream, subject });
        await subscriber.connect();
        return subscriber;
      })),
    );
    const connected = peer.stats();
    const encoder = new TextEncoder();
    for (let n = 1; n <= WARMUP; n++) await peer.publish(subject, encoder.encode(benchDocument(n)));
    if (!(await waitFor(() => subscribers.every((s) => s.check.last >= WARMUP), DELIVERY_TIMEOUT_MS))) throw new Error('NATS warm-up not delivered');
    const cpuBefore = peer.stats();
    const start = performance.now();
    // Pipelined publishes (64 awaiting their ack), the publisher's fastest sustained pace.
    await withConcurrency(sizes.updates, 64, (i) => peer.publish(subject, encoder.encode(benchDocument(WARMUP + 1 + i))));
    const last = WARMUP + sizes.updates;
    await waitFor(() => subscribers.every((s) => s.check.last >= last), DELIVERY_TIMEOUT_MS, 2);
    const seconds = (performance.now() - start) / 1000;
    const cpuAfter = peer.stats();
    return {
      system: 'nats',
      variant: `subscribers=${sizes.subscribers}`,
      figures: figures(sizes, seconds, cpuAfter.cpuSeconds - cpuBefore.cpuSeconds, (connected.rss - before.rss) / sizes.subscribers),
      integrity: subscribers.length ? sumIntegrity(subscribers.map((s) => s.check.integrity(last))) : NO_VIOLATIONS,
    };
  } finally {
    await Promise.all(subscribers.map((s) => s.terminate()));
    await peer.stop();
  }
}
