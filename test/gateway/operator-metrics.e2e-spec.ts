import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, socketUrl, syncToken, useGatewayAndWriter } from './support/gateway-harness';

/**
 * docs/operations.md §3/§4.3: the gateway series operators alert on count what the clients saw,
 * read from the gateway's own /metrics as Prometheus reads them.
 */
describe('gateway metrics operators alert on', () => {
  const harness = useGatewayAndWriter();

  /** The value of one series on /metrics (0 while it has no sample). */
  async function sample(metric: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${harness.gateway.url}/metrics`)).text();
    const wanted = Object.entries({ ...labels, app: 'gateway' });
    for (const [, name, body, value] of text.matchAll(/^([a-z_]+)\{([^}]*)\} (\S+)$/gm)) {
      if (name !== metric) continue;
      const found = Object.fromEntries([...body.matchAll(/([a-z_]+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
      if (Object.keys(found).length === wanted.length && wanted.every(([key, expected]) => found[key] === expected)) return Number(value);
    }
    return 0;
  }

  /** Opens a socket and resolves with the HTTP status of a refused upgrade. */
  async function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
    const { WebSocket } = await import('ws');
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on('open', () => reject(new Error('the upgrade was accepted')));
      socket.on('error', () => undefined);
    });
  }

  it('counts refused upgrades by the token error code: khala_gateway_auth_failures_total{reason}', async () => {
    const before = { invalid: await sample('khala_gateway_auth_failures_total', { reason: 'invalid_token' }), missing: await sample('khala_gateway_auth_failures_total', { reason: 'missing_token' }) };
    expect(await refusedUpgrade(socketUrl(harness.gateway, 'not-a-token'))).toBe(401);
    expect(await refusedUpgrade(socketUrl(harness.gateway, 'not-a-token'))).toBe(401);
    expect(await refusedUpgrade(`${harness.gateway.wsUrl}?vsn=2.0.0`)).toBe(401);
    expect(await sample('khala_gateway_auth_failures_total', { reason: 'invalid_token' })).toBe(before.invalid + 2);
    expect(await sample('khala_gateway_auth_failures_total', { reason: 'missing_token' })).toBe(before.missing + 1);
  });

  it('counts a join refused for a revoked session as reason="session_revoked"', async () => {
    const identity = freshIdentity();
    await harness.writer.revoke(identity, 'stolen_laptop');
    const before = await sample('khala_gateway_auth_failures_total', { reason: 'session_revoked' });
    const client = await RawPhoenixClient.connect(socketUrl(harness.gateway, await syncToken(harness.gateway.keys, identity)));
    try {
      expect(await client.join()).toMatchObject({ status: 'error', response: { code: 'reauth_required' } });
    } finally {
      await client.close();
    }
    expect(await sample('khala_gateway_auth_failures_total', { reason: 'session_revoked' })).toBe(before + 1);
  });

  it('counts stale_cursor replies by reason and gauges the topics subscribed', async () => {
    const identity = freshIdentity();
    await harness.writer.append('runtime.run_summaries', identity.orgId, Array.from({ length: 10 }, (_, i) => ({ i })));
    await harness.writer.prune('runtime.run_summaries', identity.orgId, 6);
    await harness.writer.append('runtime.notifications', identity.orgId, [{ n: 1 }]);
    const before = { stale: await sample('khala_gateway_stale_cursors_total', { reason: 'retention_floor_breach' }), topics: await sample('khala_gateway_subscriptions') };
    const client = await RawPhoenixClient.connect(socketUrl(harness.gateway, await syncToken(harness.gateway.keys, identity)));
    try {
      await client.join();
      const stale = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 3 } });
      expect(stale[4]).toMatchObject({ status: 'error', response: { code: 'stale_cursor', reason_codes: ['retention_floor_breach'] } });
      expect(await sample('khala_gateway_stale_cursors_total', { reason: 'retention_floor_breach' })).toBe(before.stale + 1);

      const ok = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries', 'runtime.notifications'], resume_after: { 'runtime.run_summaries': 5 } });
      expect(ok[4]).toMatchObject({ status: 'ok' });
      expect(await sample('khala_gateway_subscriptions')).toBe(before.topics + 2);
      await client.request('sync:v1', 'sync:unsubscribe', { topics: ['runtime.notifications'] });
      expect(await sample('khala_gateway_subscriptions')).toBe(before.topics + 1);
    } finally {
      await client.close();
    }
    // The socket is gone once the server has seen the close; its subscriptions with it.
    const deadline = Date.now() + 10_000;
    while ((await sample('khala_gateway_subscriptions')) !== before.topics && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await sample('khala_gateway_subscriptions')).toBe(before.topics);
  });
});
