import WebSocket from 'ws';
import { CLOCK_SKEW_SECONDS, TokenService } from '@khala/auth';
import { KhalaClient, Update, WebSocketConstructor } from '@khala/khala-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { ALL_SCOPES, freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import { InboundLimiter } from '../../apps/khala-gateway/src/sync/rate-limiter';
import { rawRequest } from './support/http';

const TOPIC = 'runtime.run_summaries';

/**
 * Per-connection limits under real sockets racing each other: a flooding client is refused, then
 * disconnected with a coded reason, while a well-behaved client on the same gateway gets every
 * reply and every update in order; and a socket lives no longer than its sync token.
 */
describe('gateway limits against hostile clients', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    // The shipped defaults for rate/burst; a small flood threshold keeps the test quick. Idle
    // timeout at its default: the sweep that closes expired sockets runs every second.
    gateway = await startGateway({ GATEWAY_RATE_LIMIT_PER_SECOND: '20', GATEWAY_RATE_LIMIT_BURST: '60', GATEWAY_RATE_LIMIT_FLOOD_FRAMES: '50' });
    writer = await JournalWriter.open();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer?.close();
    await gateway?.stop();
  });

  async function connect(token?: string): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, token ?? (await syncToken(gateway.keys, freshIdentity()))));
    clients.push(client);
    return client;
  }

  /** Sends `count` frames as fast as the socket takes them, without waiting for anything. */
  function flood(client: RawPhoenixClient, count: number, frame: () => string | Buffer | 'ping'): void {
    for (let i = 0; i < count && client.socket.readyState === client.socket.OPEN; i++) {
      const next = frame();
      if (next === 'ping') client.socket.ping();
      else client.socket.send(next);
    }
  }

  it('disconnects flooders (small frames, 60 KiB frames, binary frames, pings) with 4428 rate_limited while a well-behaved client completes every round trip in order', async () => {
    const identity = freshIdentity();
    const good = await connect(await syncToken(gateway.keys, identity, ALL_SCOPES));
    expect(await good.join()).toMatchObject({ status: 'ok' });
    expect((await good.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: 0 } }))[4]).toMatchObject({ status: 'ok' });

    const flooders = await Promise.all([connect(), connect(), connect(), connect()]);
    await Promise.all(flooders.map((client) => client.join()));
    const big = JSON.stringify(['1', '9', 'phoenix', 'heartbeat', { pad: 'x'.repeat(60 * 1024) }]);
    const kinds: (() => string | Buffer | 'ping')[] = [
      () => JSON.stringify(['1', '9', 'phoenix', 'heartbeat', {}]),
      () => big,
      () => Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      () => 'ping',
    ];

    const rounds = 10;
    const goodRun = (async () => {
      const replies: unknown[] = [];
      for (let round = 1; round <= rounds; round++) {
        await writer.append(TOPIC, identity.orgId, [{ round, part: 1 }, { round, part: 2 }]);
        replies.push((await good.request('sync:v1', 'sync:heartbeat', {}))[4]);
        await good.waitForUpdates(TOPIC, round * 2);
      }
      return replies;
    })();
    const floods = flooders.map(async (client, i) => {
      // Keep flooding until the server hangs up (bounded: the threshold is far below this).
      for (let burst = 0; burst < 50 && client.socket.readyState === client.socket.OPEN; burst++) {
        flood(client, 200, kinds[i]);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // A flooder the server never cuts off fails the assertion below instead of hanging the test.
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise((resolve) => (timer = setTimeout(() => resolve('still open after 10 s'), 10_000)));
      return Promise.race([client.closed, giveUp]).finally(() => clearTimeout(timer));
    });

    const [replies, ...closes] = await Promise.all([goodRun, ...floods]);
    for (const close of closes) expect(close).toEqual({ code: 4428, reason: 'rate limited' });
    for (const client of flooders) {
      expect(client.frames).toContainEqual([
        '1',
        null,
        'sync:v1',
        'sync:error',
        expect.objectContaining({ code: 'rate_limited', action: 'disconnect', retry_after_ms: expect.any(Number) }),
      ]);
    }
    // The text flooder was told to slow down (a coded reply to its own ref) before it was cut off.
    expect(flooders[0].frames.some((frame) => frame[3] === 'phx_reply' && (frame[4].response as { code?: string }).code === 'rate_limited')).toBe(true);

    expect(replies).toHaveLength(rounds);
    for (const reply of replies) expect(reply).toMatchObject({ status: 'ok', response: { watermarks: [{ topic: TOPIC, watermark: expect.any(Number) }] } });
    const updates = good.updates(TOPIC);
    expect(updates.map((update) => update.watermark)).toEqual(Array.from({ length: rounds * 2 }, (_, i) => i + 1));
    expect(updates.map((update) => update.payload)).toEqual(Array.from({ length: rounds * 2 }, (_, i) => ({ round: Math.floor(i / 2) + 1, part: (i % 2) + 1 })));
    expect(good.frames.some((frame) => (frame[4].response as { code?: string } | undefined)?.code === 'rate_limited')).toBe(false);
    expect(good.socket.readyState).toBe(good.socket.OPEN);
    expect((await rawRequest(`${gateway.url}/health/live`)).status).toBe(200);
  });

  it('closes a socket with 4440 token_expired when its sync token expires (exp + the verifier clock skew), and leaves other sockets open', async () => {
    const identity = freshIdentity();
    // Issued on a clock CLOCK_SKEW_SECONDS behind: exp + skew (what the gateway honours) is ~2 s away.
    const behind = () => Math.floor(Date.now() / 1000) - CLOCK_SKEW_SECONDS;
    const shortLived = (await new TokenService(gateway.keys, behind).issueSyncToken(identity, ALL_SCOPES, 2)).token;
    const expiring = await connect(shortLived);
    const lasting = await connect();
    expect(await expiring.join()).toMatchObject({ status: 'ok' });
    expect(await lasting.join()).toMatchObject({ status: 'ok' });
    expect((await expiring.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: 0 } }))[4]).toMatchObject({ status: 'ok' });

    // Keep it busy (an active socket is not spared), until the server closes it.
    const closed = expiring.closed;
    while (expiring.socket.readyState === expiring.socket.OPEN) {
      expiring.send('phoenix', 'heartbeat', {});
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    expect(await closed).toEqual({ code: 4440, reason: 'token expired' });
    expect(expiring.frames).toContainEqual(['1', null, 'sync:v1', 'sync:error', expect.objectContaining({ code: 'token_expired', reauth_required: false })]);
    // Nor can the token open a new socket.
    await expect(RawPhoenixClient.connect(socketUrl(gateway, shortLived))).rejects.toMatchObject({ status: 401, body: expect.stringContaining('token_expired') });
    expect((await lasting.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
    expect(lasting.socket.readyState).toBe(lasting.socket.OPEN);
  });

  it('the SDK reconnects with a fresh token after token_expired and resumes with nothing lost or doubled', async () => {
    const identity = freshIdentity();
    const behind = () => Math.floor(Date.now() / 1000) - CLOCK_SKEW_SECONDS;
    let issued = 0;
    const client = new KhalaClient({
      url: gateway.wsUrl,
      // The first token lives ~2 s on this gateway, the fresh one fetched on reconnect 5 minutes.
      token: async () => {
        issued += 1;
        return issued === 1
          ? (await new TokenService(gateway.keys, behind).issueSyncToken(identity, ALL_SCOPES, 2)).token
          : syncToken(gateway.keys, identity, ALL_SCOPES);
      },
      topics: [TOPIC],
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const updates: Update[] = [];
    const errors: string[] = [];
    client.on('update', (update) => updates.push(update));
    client.on('error', (error) => errors.push((error as { code?: string }).code ?? String(error)));
    await client.start();
    try {
      await writer.append(TOPIC, identity.orgId, [{ n: 1 }, { n: 2 }]);
      while (!errors.includes('token_expired')) await new Promise((resolve) => setTimeout(resolve, 100));
      await writer.append(TOPIC, identity.orgId, [{ n: 3 }]);
      while (updates.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(updates.map((update) => [update.watermark, update.payload])).toEqual([
        [1, { n: 1 }],
        [2, { n: 2 }],
        [3, { n: 3 }],
      ]);
      // One token for the first socket, one for its snapshot bootstrap (a new client of a snapshot
      // topic starts from the snapshot), and a fresh one for the reconnect.
      expect(issued).toBe(3);
    } finally {
      client.stop();
    }
  });
});

describe('InboundLimiter', () => {
  it('admits a burst, refuses with a wait, and calls it a flood only past the refusal budget per second', () => {
    const limiter = new InboundLimiter(10, 5, 3, 0);
    for (let i = 0; i < 5; i++) expect(limiter.admit(0)).toEqual({ allowed: true });
    expect(limiter.admit(0)).toEqual({ allowed: false, retryAfterMs: 100, flooding: false });
    expect(limiter.admit(0)).toMatchObject({ flooding: false });
    expect(limiter.admit(0)).toMatchObject({ flooding: false });
    expect(limiter.admit(0)).toMatchObject({ allowed: false, flooding: true });
    // A client that waits as told is admitted again and its refusal budget refills.
    expect(limiter.admit(1000)).toEqual({ allowed: true });
    expect(new InboundLimiter(10, 1, 3, 0).admit(0)).toEqual({ allowed: true });
  });

  it('a steady flood that the bucket still trickles frames through is still a flood', () => {
    const limiter = new InboundLimiter(20, 60, 100, 0);
    let flooding = false;
    // 1000 frames a second for 2 s: one admitted every 50 ms, the rest refused.
    for (let t = 0; t < 2000 && !flooding; t++) {
      const admission = limiter.admit(t);
      flooding = !admission.allowed && admission.flooding;
    }
    expect(flooding).toBe(true);
  });
});
