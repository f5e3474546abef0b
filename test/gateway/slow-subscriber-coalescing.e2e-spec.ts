import type { Socket } from 'node:net';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from './support/gateway-harness';

/**
 * A live subscriber whose socket falls behind gets the updates pending for it coalesced into fewer
 * sync:update_batch frames (protocol §6 limits), every update exactly once and in order, while a
 * subscriber that keeps up still takes each new chunk as it comes.
 */
describe('sync:v1 coalescing for a subscriber that falls behind', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    // A cap far above what this test queues and no strike for a paused reader within the test: only
    // ordinary back-pressure.
    gateway = await startGateway({
      GATEWAY_BUFFERED_AMOUNT_CAP: String(256 * 1024 * 1024),
      GATEWAY_SLOW_CONSUMER_STRIKE_MS: '600000',
      GATEWAY_IDLE_TIMEOUT_MS: '600000',
    });
    writer = await JournalWriter.open();
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await writer.close();
    await gateway.stop();
  });

  async function subscribed(identity: ReturnType<typeof freshIdentity>, topic: string): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
    clients.push(client);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    expect((await client.request('sync:v1', 'sync:subscribe', { topics: [topic] }))[4]).toMatchObject({ status: 'ok' });
    return client;
  }

  const batchFrames = (client: RawPhoenixClient) => client.frames.filter((frame) => frame[3] === 'sync:update_batch');

  it('a paused reader gets every update once, in order, in fewer frames than commits; a reading one is unchanged', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.run_events';
    const slow = await subscribed(identity, topic);
    const normal = await subscribed(identity, topic);
    const tcp = (slow.socket as unknown as { _socket: Socket })._socket;
    tcp.pause();

    // One row per commit, ~20 MiB in all: well past what the kernel's socket buffers absorb.
    const commits = 320;
    const text = 'x'.repeat(64 * 1024);
    for (let i = 1; i <= commits; i++) await writer.append(topic, identity.orgId, [{ i, text }]);

    const everyWatermark = Array.from({ length: commits }, (_, i) => i + 1);
    const normalUpdates = await normal.waitForUpdates(topic, commits, 60_000);
    expect(normalUpdates.map((update) => update.watermark)).toEqual(everyWatermark);

    tcp.resume();
    const slowUpdates = await slow.waitForUpdates(topic, commits, 60_000);
    expect(slowUpdates.map((update) => update.watermark)).toEqual(everyWatermark);
    expect(slowUpdates.map((update) => (update.payload as { i: number }).i)).toEqual(everyWatermark);

    const slowFrames = batchFrames(slow).length;
    const normalFrames = batchFrames(normal).length;
    // The backlog went out coalesced: fewer frames than commits, and fewer than the reader that kept up took.
    expect(slowFrames).toBeLessThan(commits);
    expect(slowFrames).toBeLessThan(normalFrames);
    // Every frame stays within the batch limits (≤ 200 updates; the 2 MiB bound admits 31 of these rows).
    for (const frame of batchFrames(slow)) expect((frame[4].updates as unknown[]).length).toBeLessThanOrEqual(32);
    expect(slow.socket.readyState).toBe(slow.socket.OPEN);
  });

  it('still strikes and closes (4429) a reader that stopped reading, although its small frames never reach the cap', async () => {
    const strict = await startGateway({ GATEWAY_BUFFERED_AMOUNT_CAP: String(256 * 1024 * 1024), GATEWAY_SLOW_CONSUMER_STRIKE_MS: '300', GATEWAY_IDLE_TIMEOUT_MS: '600000' });
    try {
      const identity = freshIdentity();
      const topic = 'runtime.codex_worker_events';
      const client = await RawPhoenixClient.connect(socketUrl(strict, await syncToken(strict.keys, identity)));
      clients.push(client);
      await client.join();
      await client.request('sync:v1', 'sync:subscribe', { topics: [topic] });
      const tcp = (client.socket as unknown as { _socket: Socket })._socket;
      tcp.pause();
      const disconnects = async () => {
        const text = await (await fetch(`${strict.url}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('khala_gateway_slow_consumer_strikes_total{action="disconnect"'));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const before = await disconnects();
      const text = 'z'.repeat(16 * 1024);
      // At most 32 MiB in all: far below the cap, so only the stalled backlog can strike.
      for (let i = 0; i < 2000 && (await disconnects()) === before; i++) {
        await writer.append(topic, identity.orgId, [{ i, text }]);
        if (i > 400) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await disconnects()).toBe(before + 1);
      tcp.resume();
      expect(await client.closed).toEqual({ code: 4429, reason: 'slow consumer' });
      const received = client.updates(topic).map((update) => update.watermark);
      expect(received).toEqual(Array.from({ length: received.length }, (_, i) => i + 1));
    } finally {
      await strict.stop();
    }
  });
});
