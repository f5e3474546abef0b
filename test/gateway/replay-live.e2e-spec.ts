import WebSocket from 'ws';
import { ApplyResult, KhalaClient, MemoryWatermarkStore, Update, WebSocketConstructor } from '@khala/khala-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { isPgliteRun } from '../support/test-database';
import { freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from './support/gateway-harness';
import { waitUntil } from '../support/wait-until';

/**
 * Replay → live hand-off, resume and fairness with real sockets while real transactions append to
 * the journal (on Postgres the writers race each other; on PGlite they interleave one at a time).
 */
describe('sync:v1 replay, live and resume', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];
  const sdkClients: KhalaClient[] = [];

  beforeAll(async () => {
    gateway = await startGateway();
    writer = await JournalWriter.open();
  });
  afterEach(async () => {
    sdkClients.splice(0).forEach((client) => client.stop());
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer.close();
    await gateway.stop();
  });

  async function joined(identity: ReturnType<typeof freshIdentity>): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
    clients.push(client);
    const join = await client.join();
    expect(join).toMatchObject({ status: 'ok' });
    return client;
  }

  function sdk(identity: ReturnType<typeof freshIdentity>, topics: string[], store = new MemoryWatermarkStore()): KhalaClient {
    const client = new KhalaClient({
      url: gateway.wsUrl,
      token: () => syncToken(gateway.keys, identity),
      topics,
      store,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    sdkClients.push(client);
    return client;
  }

  /**
   * Writers in parallel, each committing small transactions. PGlite serves one transaction at a
   * time, so there the same writes run one writer after the other (still concurrent with delivery).
   */
  async function concurrentWrites(topic: string, orgId: string, writers: number, perWriter: number, rowsPerTx: number): Promise<void> {
    if (isPgliteRun()) {
      for (let i = 0; i < (writers * perWriter) / rowsPerTx; i++) {
        await writer.append(topic, orgId, Array.from({ length: rowsPerTx }, (_, j) => ({ i, j })));
      }
      return;
    }
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i += rowsPerTx) {
          await writer.append(topic, orgId, Array.from({ length: rowsPerTx }, (_, j) => ({ w, i: i + j })));
        }
      }),
    );
  }

  it('replays then goes live with no gap and no duplicate while writers keep committing', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.run_events';
    await writer.append(topic, identity.orgId, Array.from({ length: 150 }, (_, i) => ({ before: i })));
    const writing = concurrentWrites(topic, identity.orgId, 3, 60, 3);
    // Subscribe while the writers are committing: part of the history is replay, part is live.
    const raw = await joined(identity);
    const subscribed = raw.request('sync:v1', 'sync:subscribe', { topics: [topic], replay_batch_size: 40 });
    const client = sdk(identity, [topic]);
    const results: ApplyResult[] = [];
    client.on('applied', (_update, result) => results.push(result));
    await client.start();
    await writing;
    expect((await subscribed)[4]).toMatchObject({ status: 'ok' });
    const head = 150 + 3 * 60;
    const updates = await raw.waitForUpdates(topic, head, 30_000);
    // Exactly once per connection, in order: the server never sends a watermark twice.
    expect(updates.map((u) => u.watermark)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    await waitUntil(() => client.watermark(topic) === head, 45_000, 'the client at the head');
    expect(results.filter((r) => r === ApplyResult.Advanced)).toHaveLength(head);
    expect(results).not.toContain(ApplyResult.OutOfOrder);
  });

  it('resumes after a forced drop with exactly the updates it missed', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.notifications';
    const first = await joined(identity);
    await first.request('sync:v1', 'sync:subscribe', { topics: [topic] });
    await writer.append(topic, identity.orgId, Array.from({ length: 20 }, (_, i) => ({ i })));
    const seen = await first.waitForUpdates(topic, 20);
    const last = seen[seen.length - 1].watermark as number;
    first.socket.terminate();
    await writer.append(topic, identity.orgId, Array.from({ length: 15 }, (_, i) => ({ i: 20 + i })));

    const second = await joined(identity);
    const reply = await second.request('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: last } });
    expect(reply[4]).toMatchObject({ status: 'ok', response: { current_watermarks: [{ topic, watermark: 35 }] } });
    expect(second.updates(topic).map((u) => u.watermark)).toEqual(Array.from({ length: 15 }, (_, i) => 21 + i));
  });

  it('the SDK reconnects after drops during writes and applies every update exactly once, in order', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.run_summaries';
    const store = new MemoryWatermarkStore();
    const client = sdk(identity, [topic], store);
    const applied: Update[] = [];
    client.on('update', (update) => applied.push(update));
    await client.start();
    const writing = concurrentWrites(topic, identity.orgId, 2, 80, 4);
    for (let drop = 0; drop < 4; drop++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      client.dropConnection();
    }
    await writing;
    await waitUntil(() => client.watermark(topic) === 160, 45_000, 'the client at watermark 160');
    expect(applied.map((u) => u.watermark)).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    expect(store.get(topic)).toBe(160);
  });

  it('the SDK restarts a non-snapshot topic at the head on stale_cursor and tells the app', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.notifications';
    for (let i = 0; i < 6; i++) await writer.append(topic, identity.orgId, Array.from({ length: 100 }, (_, j) => ({ j })));
    const store = new MemoryWatermarkStore();
    store.set(topic, 10);
    const client = sdk(identity, [topic], store);
    const resyncs: unknown[] = [];
    client.on('resync', (t, mode, info) => resyncs.push({ t, mode, info }));
    await client.start();
    expect(resyncs).toEqual([{ t: topic, mode: 'reset', info: { head_watermark: 600, reasons: ['replay_budget_exceeded'] } }]);
    await writer.append(topic, identity.orgId, [{ after: 'reset' }]);
    await waitUntil(() => client.watermark(topic) === 601, 45_000, 'the client at watermark 601');
  });

  it('round-robins topics: a cold topic is not starved by a hot topic\'s replay', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.run_events', identity.orgId, Array.from({ length: 1000 }, (_, i) => ({ hot: i })));
    await writer.append('runtime.notifications', identity.orgId, [{ cold: true }]);
    const client = await joined(identity);
    const reply = await client.request('sync:v1', 'sync:subscribe', {
      topics: ['runtime.run_events', 'runtime.notifications'],
      replay_batch_size: 20,
    });
    expect(reply[4]).toMatchObject({ status: 'ok' });
    const batches = client.frames.filter((f) => f[3] === 'sync:update_batch');
    expect(batches).toHaveLength(51);
    const coldIndex = batches.findIndex((f) => (f[4].head_watermarks as { topic: string }[])[0].topic === 'runtime.notifications');
    expect(coldIndex).toBeLessThanOrEqual(1);
  });
});
