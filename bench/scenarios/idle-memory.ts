/**
 * idle-memory: server RSS per idle, subscribed connection at 10,000 connections, khala vs a raw
 * `ws` server holding the same number of bare connections. Each server measures its own RSS after
 * a forced GC, before and after the connections are open; the figure is the difference ÷ connections.
 *
 *   npm run bench -- idle-memory [--smoke] [--connections=N]
 */
import { Measurement, NO_VIOLATIONS, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { KhalaServer } from '../lib/gateway/khala-server';
import { KhalaSubscriber } from '../lib/gateway/khala-subscriber';
import { round, sleep, withConcurrency } from '../lib/gateway/load';
import { ProcessStats } from '../lib/gateway/processes';
import { RawWsClient, RawWsServer } from '../lib/peers/raw-ws';

const TOPIC = 'runtime.run_summaries';
const CONNECT_CONCURRENCY = 100;
const SETTLE_MS = 2000;

const scenario: Scenario = {
  name: 'idle-memory',
  description: 'server RSS per idle subscribed WebSocket connection: khala vs raw ws',
  options: { connections: { type: 'string' } },
  async run(options: ScenarioOptions): Promise<ScenarioResult> {
    const connections = options.args.integer('connections', options.smoke ? 200 : 10_000);
    const notes: string[] = [];
    const khala = await runKhala(options, connections, notes);
    const raw = await runRawWs(connections);
    const value = khala.figures.rss_kib_per_conn / raw.figures.rss_kib_per_conn;
    notes.push(
      'RSS after a forced GC in the server process, with connections open minus before; khala connections are joined and subscribed to one topic (idle: nothing is published)',
    );
    return {
      scenario: 'idle-memory',
      measurements: [khala, raw],
      // RSS can shrink while connecting (the allocator returns pages), which at smoke sizes gives a
      // negative per-connection figure: that is no measurement, so it never counts as met.
      ratios: [{ label: 'RSS per connection, khala ÷ raw ws', value, target: '<= 2.0', met: value > 0 && value <= 2 }],
      notes,
    };
  },
};

export default scenario;

function figures(connections: number, before: ProcessStats, after: ProcessStats, seconds: number): Record<string, number> {
  return {
    connections,
    connect_s: round(seconds, 2),
    rss_mib_before: round(before.rss / 2 ** 20, 1),
    rss_mib_after: round(after.rss / 2 ** 20, 1),
    rss_kib_per_conn: round((after.rss - before.rss) / connections / 1024, 2),
    heap_kib_per_conn: round((after.heapUsed - before.heapUsed) / connections / 1024, 2),
  };
}

async function runKhala(options: ScenarioOptions, connections: number, notes: string[]): Promise<Measurement> {
  const server = await KhalaServer.start({ databaseUrl: options.databaseUrl });
  const subscribers: KhalaSubscriber[] = [];
  const heartbeats = setInterval(() => subscribers.forEach((s) => s.heartbeat()), 20_000);
  try {
    notes.push(`khala store: ${server.endpoints.store}; ${server.process.pinning}`);
    const [{ syncToken }] = await server.tokens(['bench_idle'], [TOPIC]);
    const before = await server.stats(true);
    const start = performance.now();
    subscribers.push(
      ...(await withConcurrency(connections, CONNECT_CONCURRENCY, async () => {
        const subscriber = new KhalaSubscriber({ wsUrl: server.endpoints.wsUrl, token: syncToken, topic: TOPIC });
        await subscriber.connect();
        return subscriber;
      })),
    );
    const seconds = (performance.now() - start) / 1000;
    await sleep(SETTLE_MS);
    const after = await server.stats(true);
    return { system: 'khala', variant: `connections=${connections}`, figures: figures(connections, before, after, seconds), integrity: NO_VIOLATIONS };
  } finally {
    clearInterval(heartbeats);
    for (const s of subscribers) s.terminate();
    await server.stop();
  }
}

async function runRawWs(connections: number): Promise<Measurement> {
  const server = await RawWsServer.start();
  const clients: RawWsClient[] = [];
  try {
    const before = await server.stats(true);
    const start = performance.now();
    clients.push(
      ...(await withConcurrency(connections, CONNECT_CONCURRENCY, async () => {
        const client = new RawWsClient(server.url);
        await client.connect();
        return client;
      })),
    );
    const seconds = (performance.now() - start) / 1000;
    await sleep(SETTLE_MS);
    const after = await server.stats(true);
    return { system: 'raw-ws', variant: `connections=${connections}`, figures: figures(connections, before, after, seconds), integrity: NO_VIOLATIONS };
  } finally {
    for (const c of clients) c.terminate();
    await server.stop();
  }
}
