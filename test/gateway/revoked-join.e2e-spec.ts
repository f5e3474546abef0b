import type { Counter, Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@khala/platform';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from './support/gateway-harness';

/**
 * docs/protocol/README.md §2: a socket opened with the token of an already revoked session is refused at
 * its join (`phx_reply` error `{code: "reauth_required", reauth_required: true, reason}`), even when
 * the gateway's revocation watcher saw the revocation before the join arrived; the `sync:error`
 * push is for live sockets revoked later.
 */
describe('join of a revoked session', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  let revokedSockets: () => Promise<number>;

  beforeAll(async () => {
    // A fast poll, so the watcher finds the revocation well before the test joins.
    gateway = await startGateway({ GATEWAY_REVOCATION_POLL_MS: '20' });
    writer = await JournalWriter.open();
    const registry = gateway.app.get<Registry>(METRICS_REGISTRY);
    const counter = registry.getSingleMetric('khala_gateway_revoked_connections_total') as Counter;
    revokedSockets = async () => (await counter.get()).values.reduce((sum, value) => sum + value.value, 0);
  });
  afterAll(async () => {
    await writer.close();
    await gateway.stop();
  });

  it('gets the join error reply after the watcher has already seen the revocation, then close 4401; no sync:error push', async () => {
    const identity = freshIdentity();
    await writer.revoke(identity, 'stolen_laptop');
    const before = await revokedSockets();
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
    try {
      // The watcher's poll finds the revoked session of this (unjoined) socket first.
      const deadline = Date.now() + 10_000;
      while ((await revokedSockets()) === before) {
        if (Date.now() > deadline) throw new Error('the revocation watcher never saw the socket');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const reply = await client.join();
      expect(reply).toEqual({ status: 'error', response: { code: 'reauth_required', message: expect.any(String), reauth_required: true, reason: 'stolen_laptop' } });
      expect(await client.closed).toEqual({ code: 4401, reason: 'reauth required' });
      expect(client.frames.filter((frame) => frame[3] === 'sync:error')).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
