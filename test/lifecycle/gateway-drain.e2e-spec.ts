import WebSocket from 'ws';
import { ApplyResult, KhalaClient, WebSocketConstructor } from '@khala/khala-client';
import { freshIdentity, JournalWriter, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import { eventually, withinDeadline } from '../gateway/support/conditions';
import { AppProcess, startApp } from '../support/processes/app-process';
import { isPgliteRun, testDatabaseUrl } from '../support/test-database';

const TOPIC = 'runtime.notifications';

/** One SDK client and what it saw: every update applied (and when), every close code of its sockets. */
interface ObservedClient {
  client: KhalaClient;
  watermarks: number[];
  receivedAt: number[];
  results: ApplyResult[];
  closeCodes: number[];
  closeReasons: string[];
  closedAt: number[];
  liveAt: number[];
  goingAwayReconnects: number;
}

/** `ws` sockets that record how the server closed them. */
function recordingWebSocket(observed: Pick<ObservedClient, 'closeCodes' | 'closeReasons' | 'closedAt'>): WebSocketConstructor {
  class Recording extends WebSocket {
    constructor(url: string) {
      super(url);
      this.on('close', (code: number, reason: Buffer) => {
        observed.closedAt.push(Date.now());
        observed.closeCodes.push(code);
        observed.closeReasons.push(reason.toString());
      });
    }
  }
  return Recording as unknown as WebSocketConstructor;
}

/**
 * Graceful drain of a gateway (issue 15, item 3; docs/deploy.md "Graceful drain"): SDK clients on
 * gateway A while events are committed continuously; A is a real process and gets SIGTERM. Every
 * client is closed with 1001, moves to gateway B at once and receives every event exactly once and
 * in order (dense watermarks, nothing applied twice, no gap).
 */
describe('gateway drain on SIGTERM: clients move to the other gateway, nothing lost or doubled', () => {
  let gatewayA: AppProcess;
  let gatewayB: TestGateway;
  let writer: JournalWriter;

  beforeAll(async () => {
    gatewayB = await startGateway();
    gatewayA = await startApp('gateway', {
      DATABASE_URL: testDatabaseUrl(),
      AUTH_SIGNING_KEYS: gatewayB.keys.serialize(),
      KHALA_PORT: '0',
      SHUTDOWN_DRAIN_MS: '10000',
    });
    writer = await JournalWriter.open();
  }, 90_000);
  afterAll(async () => {
    await writer?.close();
    await gatewayA?.stop();
    await gatewayB?.stop();
  });

  it('SIGTERM on A: every client gets 1001, reconnects to B without backoff and resumes from its watermarks', async () => {
    const clientCount = isPgliteRun() ? 10 : 25;
    const identity = freshIdentity();
    const urlA = `${gatewayA.url!.replace('http', 'ws')}/sync/socket/websocket`;
    const observed: ObservedClient[] = Array.from({ length: clientCount }, () => {
      const entry = { watermarks: [], receivedAt: [], results: [], closeCodes: [], closeReasons: [], closedAt: [], liveAt: [], goingAwayReconnects: 0 } as unknown as ObservedClient;
      entry.client = new KhalaClient({
        url: [urlA, gatewayB.wsUrl],
        WebSocket: recordingWebSocket(entry),
        topics: [TOPIC],
        token: () => syncToken(gatewayB.keys, identity),
      });
      entry.client.on('update', (update) => {
        entry.watermarks.push(update.watermark);
        entry.receivedAt.push(Date.now());
      });
      entry.client.on('applied', (_update, result) => entry.results.push(result));
      entry.client.on('status', (status) => status === 'live' && entry.liveAt.push(Date.now()));
      entry.client.on('reconnect_scheduled', (info) => {
        if (info.goingAway) entry.goingAwayReconnects += 1;
      });
      return entry;
    });

    try {
      await Promise.all(observed.map(({ client }) => client.start()));
      expect(observed.every(({ client }) => client.url === urlA)).toBe(true);

      // A producer commits one or two events every few milliseconds until told to stop.
      let producing = true;
      let head = 0;
      const producer = (async () => {
        let n = 0;
        while (producing) {
          const size = 1 + (n % 2);
          const watermarks = await writer.append(TOPIC, identity.orgId, Array.from({ length: size }, (_, i) => ({ n: n + i })));
          head = watermarks[watermarks.length - 1];
          n += size;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();

      await eventually(() => observed.every(({ watermarks }) => watermarks.length >= 20), 'every client to receive updates from A', 30_000);

      const headAtSigterm = head;
      const sigtermAt = Date.now();
      const stopped = gatewayA.stop(30_000);
      await withinDeadline(
        eventually(() => observed.every(({ client, closeCodes }) => closeCodes.length > 0 && client.url === gatewayB.wsUrl && client.status === 'live'), 'every client to be live on B', 30_000),
        'the move to B',
        35_000,
      );
      const allLiveOnBAt = Date.now();
      const headWhenAllLive = head;
      await stopped;
      const { code, signal } = await gatewayA.exited;

      // Keep producing on B for a while, then stop and let everyone catch up to the final head.
      await eventually(() => head >= headWhenAllLive + 50, 'events after the move', 30_000);
      producing = false;
      await producer;
      const finalHead = head;
      await eventually(() => observed.every(({ watermarks }) => watermarks[watermarks.length - 1] === finalHead), 'every client to reach the final head', 30_000);

      const expected = Array.from({ length: finalHead }, (_, i) => i + 1);
      for (const entry of observed) {
        expect(entry.watermarks).toEqual(expected);
        // Nothing was sent twice or out of order on the wire either: every update applied advanced.
        expect(entry.results.filter((result) => result !== ApplyResult.Advanced)).toEqual([]);
        expect(entry.closeCodes).toEqual([1001]);
        expect(entry.closeReasons[0]).toContain('reconnect_after_ms=0');
        expect(entry.goingAwayReconnects).toBe(1);
      }
      // A drained and exited on the signal (Nest re-raises it after the shutdown hooks), not on a kill.
      expect(signal === 'SIGTERM' || code === 0).toBe(true);

      const pauses = observed.map(({ receivedAt }) => Math.max(...receivedAt.slice(1).map((at, i) => at - receivedAt[i])));
      const codes = [...new Set(observed.flatMap(({ closeCodes }) => closeCodes))];
      console.log(
        `[drain-figures] ${JSON.stringify({
          database: isPgliteRun() ? 'pglite' : 'postgres',
          clients: clientCount,
          events_total: finalHead,
          events_committed_during_switch: headWhenAllLive - headAtSigterm,
          sigterm_to_first_1001_ms: Math.min(...observed.map(({ closedAt }) => closedAt[0])) - sigtermAt,
          sigterm_to_last_1001_ms: Math.max(...observed.map(({ closedAt }) => closedAt[0])) - sigtermAt,
          max_1001_to_live_on_b_ms: Math.max(...observed.map(({ closedAt, liveAt }) => liveAt[liveAt.length - 1] - closedAt[0])),
          sigterm_to_all_live_on_b_ms: allLiveOnBAt - sigtermAt,
          max_delivery_pause_ms: Math.max(...pauses),
          median_client_max_pause_ms: pauses.sort((a, b) => a - b)[Math.floor(pauses.length / 2)],
          close_codes: codes,
          duplicates: 0,
          gaps: 0,
        })}`,
      );
    } finally {
      for (const { client } of observed) client.stop();
    }
  }, 120_000);
});
