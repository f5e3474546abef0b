import { Channel, Socket } from 'phoenix';
import WebSocket from 'ws';
import { freshIdentity, JournalWriter, startGateway, syncToken, TestGateway } from './support/gateway-harness';
import { waitUntil } from '../support/wait-until';

/** The official `phoenix` npm client (1.8.16), unchanged, speaks sync:v1 (docs/protocol/README.md §1). */
// A short idle timeout, so the client's own heartbeats (every 150 ms) must keep the connection
// alive; ten heartbeats to a timeout, so a machine too busy to send one on time is not a failure.
const IDLE_TIMEOUT_MS = 1500;

describe('sync:v1 with the official phoenix client', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    gateway = await startGateway({ GATEWAY_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) });
    writer = await JournalWriter.open();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  afterAll(async () => {
    await writer.close();
    await gateway.stop();
  });

  async function connect(identity: ReturnType<typeof freshIdentity>, options: { heartbeatIntervalMs?: number } = {}): Promise<Socket> {
    const token = await syncToken(gateway.keys, identity);
    const socket = new Socket(`${gateway.url.replace('http', 'ws')}/sync/socket`, {
      transport: WebSocket as unknown as typeof globalThis.WebSocket,
      params: { token },
      vsn: '2.0.0',
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 150,
      reconnectAfterMs: () => 60_000,
    });
    sockets.push(socket);
    socket.connect();
    return socket;
  }

  function receive<T>(push: ReturnType<Channel['push']>): Promise<{ status: 'ok' | 'error' | 'timeout'; response: T }> {
    return new Promise((resolve) => {
      push
        .receive('ok', (response: T) => resolve({ status: 'ok', response }))
        .receive('error', (response: T) => resolve({ status: 'error', response }))
        .receive('timeout', () => resolve({ status: 'timeout', response: undefined as T }));
    });
  }

  it('joins, subscribes, gets replay and live batches, and errors as replies', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.run_summaries', identity.orgId, [{ n: 1 }, { n: 2 }]);
    const socket = await connect(identity);
    const channel = socket.channel('sync:v1', {});
    const batches: { updates: { watermark: number; payload: unknown }[]; replay_complete: boolean }[] = [];
    channel.on('sync:update_batch', (payload) => {
      batches.push(payload);
    });
    const joined = await receive<{ subscription_id: string; allowed_topics: string[] }>(channel.join());
    expect(joined).toMatchObject({ status: 'ok', response: { subscription_id: expect.any(String) } });
    expect(joined.response.allowed_topics).toContain('runtime.run_summaries');

    const subscribed = await receive<{ current_watermarks: unknown[] }>(
      channel.push('sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': '0' } }),
    );
    expect(subscribed).toMatchObject({ status: 'ok', response: { current_watermarks: [{ topic: 'runtime.run_summaries', watermark: 2 }] } });
    expect(batches.flatMap((b) => b.updates.map((u) => u.watermark))).toEqual([1, 2]);

    await writer.append('runtime.run_summaries', identity.orgId, [{ n: 3 }]);
    await waitUntil(() => batches.flatMap((b) => b.updates).length === 3, 45_000, 'three updates');
    expect(batches[batches.length - 1]).toMatchObject({ replay_complete: true, updates: [{ watermark: 3, payload: { n: 3 } }] });

    const refused = await receive<{ code: string }>(channel.push('sync:subscribe', { topics: [] }));
    expect(refused).toMatchObject({ status: 'error', response: { code: 'bad_subscription' } });
    const heartbeat = await receive<{ watermarks: unknown[] }>(channel.push('sync:heartbeat', {}));
    expect(heartbeat).toMatchObject({ status: 'ok', response: { watermarks: [{ topic: 'runtime.run_summaries', watermark: 3 }] } });

    // Phoenix heartbeats keep the socket past two idle timeouts.
    await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_TIMEOUT_MS));
    expect(socket.isConnected()).toBe(true);
    expect(await receive(channel.leave())).toMatchObject({ status: 'ok' });
  });

  it('gets sync:frame envelopes when joined with frames: true', async () => {
    const identity = freshIdentity();
    const socket = await connect(identity);
    const channel = socket.channel('sync:v1', { frames: true });
    const frames: { kind: string; seq: number; schema_version: number }[] = [];
    channel.on('sync:frame', (payload) => {
      frames.push(payload);
    });
    expect(await receive(channel.join())).toMatchObject({ status: 'ok' });
    expect(await receive(channel.push('sync:subscribe', { topics: ['runtime.notifications'] }))).toMatchObject({ status: 'ok' });
    await writer.append('runtime.notifications', identity.orgId, [{ hi: 1 }]);
    await waitUntil(() => frames.length === 1, 45_000, 'one frame');
    expect(frames[0]).toMatchObject({ kind: 'update_batch', seq: 1, schema_version: 1 });
  });

  it('a joined client that stops heartbeating is closed by the idle timeout', async () => {
    const identity = freshIdentity();
    // Its heartbeat interval is far beyond the server's idle timeout.
    const socket = await connect(identity, { heartbeatIntervalMs: 60_000 });
    const channel = socket.channel('sync:v1', {});
    expect(await receive(channel.join())).toMatchObject({ status: 'ok' });
    const closed = new Promise<number>((resolve) => socket.onClose((event: { code: number }) => resolve(event.code)));
    expect(await closed).toBe(4408);
  });
});
