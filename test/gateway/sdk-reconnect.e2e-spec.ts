import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { KhalaClient, SyncErrorPayload, WebSocketConstructor } from '@khala/khala-client';
import { freshIdentity, startGateway, syncToken, TestGateway } from './support/gateway-harness';
import { eventually } from './support/conditions';

/** `ws` sockets the client opens, so a test can see them and write raw frames through them. */
function recordingWebSocket(): { WS: WebSocketConstructor; opened: WebSocket[] } {
  const opened: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string) {
      super(url);
      opened.push(this);
    }
  }
  return { WS: Recording as unknown as WebSocketConstructor, opened };
}

/** Server-side: when each sync socket upgrade reached the gateway. */
function upgradeTimes(gateway: TestGateway): { times: number[]; off(): void } {
  const times: number[] = [];
  const server = gateway.app.getHttpServer() as import('node:http').Server;
  const onUpgrade = (request: IncomingMessage) => {
    if (request.url?.startsWith('/sync/socket/websocket')) times.push(Date.now());
  };
  server.prependListener('upgrade', onUpgrade);
  return { times, off: () => server.off('upgrade', onUpgrade) };
}


describe('khala-client reconnects (docs/protocol/README.md §10)', () => {
  // A tiny bucket so three frames past it count as a flood, and the server's retry_after_ms
  // (up to 1 s at 1 frame/s) is far above the client's own (near-zero) backoff.
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ GATEWAY_RATE_LIMIT_PER_SECOND: '1', GATEWAY_RATE_LIMIT_BURST: '5', GATEWAY_RATE_LIMIT_FLOOD_FRAMES: '3' });
  });
  afterAll(() => gateway.stop());

  it('stop() while a reconnect awaits token() opens no socket, and the client stays stopped', async () => {
    const identity = freshIdentity();
    const { WS, opened } = recordingWebSocket();
    let release: (() => void) | undefined;
    let calls = 0;
    const client = new KhalaClient({
      url: gateway.wsUrl,
      WebSocket: WS,
      topics: ['runtime.notifications'],
      backoff: { initialMs: 1, maxMs: 1 },
      token: async () => {
        calls += 1;
        // The second token (the reconnect's) is held until the test has called stop().
        if (calls > 1) await new Promise<void>((resolve) => (release = resolve));
        return syncToken(gateway.keys, identity);
      },
    });
    await client.start();
    expect(opened.length).toBe(1);
    client.dropConnection();
    await eventually(() => release !== undefined, 'the reconnect to ask for a token');
    client.stop();
    release!();
    // Let the abandoned connect run to completion (token, store reads) before looking.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(opened.length).toBe(1);
    expect(client.status).toBe('stopped');
    expect(opened[0].readyState).toBe(WebSocket.CLOSED);
  });

  it('after a rate-limited flood close (4428) it reconnects no sooner than the retry_after_ms the server sent', async () => {
    const identity = freshIdentity();
    const { WS, opened } = recordingWebSocket();
    const upgrades = upgradeTimes(gateway);
    const client = new KhalaClient({
      url: gateway.wsUrl,
      WebSocket: WS,
      topics: ['runtime.notifications'],
      // Without the server's delay the client would be back within a millisecond.
      backoff: { initialMs: 1, maxMs: 1 },
      token: () => syncToken(gateway.keys, identity),
    });
    const errors: (SyncErrorPayload & { receivedAt: number })[] = [];
    const scheduled: { delayMs: number; attempt: number; url: string }[] = [];
    const closes: number[] = [];
    client.on('error', (error) => {
      if (!(error instanceof Error)) errors.push({ ...error, receivedAt: Date.now() });
    });
    client.on('reconnect_scheduled', (info) => scheduled.push(info));
    try {
      await client.start();
      expect(upgrades.times).toHaveLength(1);
      const socket = opened[0];
      socket.on('close', (code) => closes.push(code));
      // Flood the gateway through the client's own socket: heartbeats far past the bucket.
      for (let i = 0; i < 40; i++) socket.send(JSON.stringify([null, `flood${i}`, 'phoenix', 'heartbeat', {}]));
      await eventually(() => client.status === 'live' && upgrades.times.length === 2, 'the reconnect after the flood close');

      expect(closes).toEqual([4428]);
      const floodPush = errors.find((error) => error.code === 'rate_limited' && error.action === 'disconnect');
      expect(floodPush).toBeDefined();
      expect(floodPush!.retry_after_ms).toBeGreaterThan(1);
      expect(scheduled).toEqual([{ delayMs: floodPush!.retry_after_ms, attempt: 1, url: gateway.wsUrl }]);
      // Measured where the server sees it: the new upgrade came no sooner than the delay after the
      // client even received the push (the server sent it earlier still).
      expect(upgrades.times[1] - floodPush!.receivedAt).toBeGreaterThanOrEqual(floodPush!.retry_after_ms! - 1);
    } finally {
      upgrades.off();
      client.stop();
    }
  });
});
