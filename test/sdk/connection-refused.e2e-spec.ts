import WebSocket from 'ws';
import { KeyRing, TokenService } from '@khala/auth';
import { ConnectionRefusedError, KhalaClient, SyncErrorPayload, WebSocketConstructor } from '@khala/khala-client';
import { ALL_SCOPES, freshIdentity, syncToken, useGatewayAndWriter } from '../gateway/support/gateway-harness';

/**
 * docs/protocol/README.md §1, §10: a connection the gateway refuses (HTTP 401 at the handshake:
 * invalid, foreign or expired token; a revoked session's join) is an `error` event and rejects
 * start(); the client stops instead of reconnecting forever.
 */
describe('khala-client: a refused connection', () => {
  const harness = useGatewayAndWriter();

  /** A client whose every token comes from `token`, recording what it emits and how often it connects. */
  function refusedClient(token: () => string | Promise<string>) {
    const seen = { tokens: 0, sockets: 0, errors: [] as (SyncErrorPayload | Error)[], reconnects: 0, reauth: [] as string[] };
    class Counting extends WebSocket {
      constructor(url: string) {
        super(url);
        seen.sockets += 1;
      }
    }
    const client = new KhalaClient({
      url: harness.gateway.wsUrl,
      WebSocket: Counting as unknown as WebSocketConstructor,
      topics: ['runtime.notifications'],
      // Were a refusal retried, it would be retried at once and many times over.
      backoff: { initialMs: 1, maxMs: 1 },
      token: () => {
        seen.tokens += 1;
        return token();
      },
    });
    client.on('error', (error) => seen.errors.push(error));
    client.on('reconnect_scheduled', () => (seen.reconnects += 1));
    client.on('reauth_required', (reason) => seen.reauth.push(reason));
    return { client, seen };
  }

  /** Lets anything a refusal might have scheduled happen, before counting what did. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  it.each([
    ['a malformed token', async () => 'not-a-jwt'],
    ['a token signed by another deployment', async () => (await new TokenService(KeyRing.generate()).issueSyncToken(freshIdentity(), ALL_SCOPES, 300)).token],
    [
      'an expired token',
      async () => (await new TokenService(harness.gateway.keys, () => Math.floor(Date.now() / 1000) - 3600).issueSyncToken(freshIdentity(), ALL_SCOPES, 300)).token,
    ],
  ])('%s: HTTP 401 at the handshake rejects start() with connection_refused, once, and the client stops', async (_case, issue) => {
    const token = await issue();
    const { client, seen } = refusedClient(() => token);
    const started = client.start();
    await expect(started).rejects.toBeInstanceOf(ConnectionRefusedError);
    await expect(started).rejects.toMatchObject({ code: 'connection_refused', status: 401 });
    await settle();
    expect(seen.errors).toEqual([expect.objectContaining({ code: 'connection_refused', status: 401 })]);
    expect({ tokens: seen.tokens, sockets: seen.sockets, reconnects: seen.reconnects, status: client.status }).toEqual({ tokens: 1, sockets: 1, reconnects: 0, status: 'stopped' });
  });

  it('a revoked session: the join error is an error event and reauth_required, start() rejects, no reconnect', async () => {
    const identity = freshIdentity();
    await harness.writer.revoke(identity, 'stolen_laptop');
    const token = await syncToken(harness.gateway.keys, identity);
    const { client, seen } = refusedClient(() => token);
    await expect(client.start()).rejects.toThrow('reauth required: stolen_laptop');
    await settle();
    expect(seen.errors).toEqual([expect.objectContaining({ code: 'reauth_required', reason: 'stolen_laptop' })]);
    expect(seen.reauth).toEqual(['stolen_laptop']);
    expect({ sockets: seen.sockets, reconnects: seen.reconnects, status: client.status }).toEqual({ sockets: 1, reconnects: 0, status: 'stopped' });
  });

  it('token() giving no token (as a wrong path into the token response would): refused without opening a socket', async () => {
    const { client, seen } = refusedClient(() => undefined as unknown as string);
    await expect(client.start()).rejects.toMatchObject({ code: 'connection_refused', status: 0 });
    await settle();
    expect(seen.errors).toEqual([expect.objectContaining({ code: 'connection_refused' })]);
    expect({ sockets: seen.sockets, reconnects: seen.reconnects, status: client.status }).toEqual({ sockets: 0, reconnects: 0, status: 'stopped' });
  });

  it('token() throwing a ConnectionRefusedError (its token endpoint said 401) stops the client; any other failure is retried', async () => {
    const refused = refusedClient(() => {
      throw new ConnectionRefusedError(401, 'POST /api/sync/token: HTTP 401');
    });
    await expect(refused.client.start()).rejects.toMatchObject({ code: 'connection_refused', status: 401 });
    await settle();
    expect({ tokens: refused.seen.tokens, reconnects: refused.seen.reconnects, status: refused.client.status }).toEqual({ tokens: 1, reconnects: 0, status: 'stopped' });

    const identity = freshIdentity();
    let calls = 0;
    const flaky = refusedClient(async () => {
      calls += 1;
      if (calls === 1) throw new Error('network down');
      return syncToken(harness.gateway.keys, identity);
    });
    await flaky.client.start();
    expect({ reconnects: flaky.seen.reconnects, status: flaky.client.status }).toEqual({ reconnects: 1, status: 'live' });
    flaky.client.stop();
  });
});
