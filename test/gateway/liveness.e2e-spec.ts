import type { Socket } from 'node:net';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from './support/gateway-harness';
import { waitUntil } from '../support/wait-until';

/**
 * Connection liveness (docs/protocol/README.md §9): server heartbeats, the idle timeout, and slow
 * consumers that are throttled, then disconnected, and resume from their watermark without loss.
 */
describe('sync:v1 heartbeats, idle timeout and slow consumers', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    gateway = await startGateway({
      GATEWAY_HEARTBEAT_INTERVAL_MS: '100',
      GATEWAY_IDLE_TIMEOUT_MS: '800',
      GATEWAY_BUFFERED_AMOUNT_CAP: String(256 * 1024),
      GATEWAY_SLOW_CONSUMER_STRIKE_MS: '300',
    });
    writer = await JournalWriter.open();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer.close();
    await gateway.stop();
  });

  async function joined(identity = freshIdentity()): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
    clients.push(client);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    return client;
  }

  /** A client that stops reading may still write: its heartbeats keep it clear of the idle timeout. */
  function keepAlive(client: RawPhoenixClient): () => void {
    const timer = setInterval(() => client.socket.readyState === client.socket.OPEN && client.send('phoenix', 'heartbeat', {}), 150);
    return () => clearInterval(timer);
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('pushes sync:heartbeat with the delivered watermarks, and closes a silent client with 4408', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.notifications', identity.orgId, [{ a: 1 }]);
    const client = await joined(identity);
    await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'] });
    // Pushes sent before the subscribe reply (during replay) report what was delivered so far;
    // judge only one that follows the reply.
    const afterReply = client.frames.length;
    const heartbeat = await client.waitFor((f) => f[3] === 'sync:heartbeat' && client.frames.indexOf(f) >= afterReply);
    expect(heartbeat).toEqual(['1', null, 'sync:v1', 'sync:heartbeat', { watermarks: [{ topic: 'runtime.notifications', watermark: 1 }] }]);
    expect(await client.closed).toEqual({ code: 4408, reason: 'idle timeout' });
  });

  it('keeps a client that sends Phoenix heartbeats', async () => {
    const client = await joined();
    // Heartbeats one after another (the gap is a round trip, however slow the machine) for twice
    // the idle timeout (800 ms).
    const until = Date.now() + 1_600;
    while (Date.now() < until) {
      expect((await client.request('phoenix', 'heartbeat', {}))[4]).toMatchObject({ status: 'ok' });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  it('throttles a consumer that stops reading, tells it why, and delivers everything once it reads again', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.run_events';
    const client = await joined(identity);
    await client.request('sync:v1', 'sync:subscribe', { topics: [topic] });
    const stopKeepAlive = keepAlive(client);
    const tcp = (client.socket as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const throttlesBefore = await metric('khala_gateway_slow_consumer_strikes_total{action="throttle"');
    const big = 'y'.repeat(100 * 1024);
    for (let i = 0; i < 20 && (await metric('khala_gateway_slow_consumer_strikes_total{action="throttle"')) === throttlesBefore; i++) {
      await writer.append(topic, identity.orgId, Array.from({ length: 10 }, (_, j) => ({ i, j, big })));
    }
    // 20 MiB are queued for a socket that reads nothing: the strike follows once the gateway has
    // sent into the full buffer for GATEWAY_SLOW_CONSUMER_STRIKE_MS, however slow the machine.
    const throttled = async () => (await metric('khala_gateway_slow_consumer_strikes_total{action="throttle"')) > throttlesBefore;
    await waitUntil(throttled, 45_000, 'a throttle strike');
    tcp.resume();
    const head = Number((await writer.db.query<{ h: string }>(
      'SELECT head_watermark AS h FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2', [topic, identity.orgId])).rows[0].h);
    const updates = await client.waitForUpdates(topic, head, 30_000);
    expect(updates.map((u) => u.watermark)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    const slow = client.frames.find((f) => f[3] === 'sync:error' && f[4].code === 'slow_consumer');
    expect(slow?.[4]).toEqual({
      code: 'slow_consumer',
      message: expect.any(String),
      action: 'throttle',
      topic,
      queue_depth: expect.any(Number),
      queue_limit: 256 * 1024,
      reconnect_after_ms: 0,
      full_resync_required: false,
    });
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    stopKeepAlive();
  });

  it('disconnects a consumer on the third strike; it resumes from its watermark with no loss', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.codex_worker_events';
    const client = await joined(identity);
    await client.request('sync:v1', 'sync:subscribe', { topics: [topic] });
    const stopKeepAlive = keepAlive(client);
    const tcp = (client.socket as unknown as { _socket: Socket })._socket;
    const disconnectsBefore = await metric('khala_gateway_slow_consumer_strikes_total{action="disconnect"');
    tcp.pause();
    const big = 'z'.repeat(100 * 1024);
    for (let i = 0; i < 30 && (await metric('khala_gateway_slow_consumer_strikes_total{action="disconnect"')) === disconnectsBefore; i++) {
      await writer.append(topic, identity.orgId, Array.from({ length: 10 }, (_, j) => ({ i, j, big })));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await metric('khala_gateway_slow_consumer_strikes_total{action="disconnect"')).toBe(disconnectsBefore + 1);
    tcp.resume();
    await client.closed;
    stopKeepAlive();
    // The client applied what reached it; it resumes from there and gets exactly the rest.
    const received = client.updates(topic).map((u) => u.watermark as number);
    expect(received).toEqual(Array.from({ length: received.length }, (_, i) => i + 1));
    const last = received.length;
    const head = Number((await writer.db.query<{ h: string }>(
      'SELECT head_watermark AS h FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2', [topic, identity.orgId])).rows[0].h);
    expect(last).toBeLessThan(head);
    const again = await joined(identity);
    const stopAgain = keepAlive(again);
    const reply = await again.request('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: last } }, 30_000);
    expect(reply[4]).toMatchObject({ status: 'ok', response: { current_watermarks: [{ topic, watermark: head }] } });
    expect(again.updates(topic).map((u) => u.watermark)).toEqual(Array.from({ length: head - last }, (_, i) => last + i + 1));
    stopAgain();
  });
});
