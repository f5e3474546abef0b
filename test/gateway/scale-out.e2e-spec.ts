import { RawPhoenixClient } from '../support/phoenix-client';
import { isPgliteRun } from '../support/test-database';
import { freshIdentity, JournalWriter, socketUrl, startGateway, startGatewayProcess, syncToken, TestGateway, TestIdentity } from './support/gateway-harness';

/**
 * Two gateway processes on one database (docs/protocol/README.md §2, architecture "Scale-out"): no
 * gateway-to-gateway traffic, yet both deliver every update in order, and a revocation recorded
 * in Postgres closes the session's sockets on both.
 */
describe('two gateway processes on one database', () => {
  let local: TestGateway;
  let remote: { wsUrl: string; stop(): Promise<void> };
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    local = await startGateway();
    remote = await startGatewayProcess(local.keys);
    writer = await JournalWriter.open();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer.close();
    await remote.stop();
    await local.stop();
  });

  async function joined(target: { wsUrl: string }, identity: TestIdentity): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(target, await syncToken(local.keys, identity)));
    clients.push(client);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    return client;
  }

  it('both deliver every update, in order, while writers commit concurrently', async () => {
    const identity = freshIdentity();
    const topic = 'runtime.run_summaries';
    const subscribers = [await joined(local, identity), await joined(remote, identity), await joined(local, identity), await joined(remote, identity)];
    await Promise.all(subscribers.map((client) => client.request('sync:v1', 'sync:subscribe', { topics: [topic], resume_after: { [topic]: 0 } })));
    const writers = isPgliteRun() ? 1 : 4;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < 200 / writers; i += 5) {
          await writer.append(topic, identity.orgId, Array.from({ length: 5 }, (_, j) => ({ w, n: i + j })));
        }
      }),
    );
    for (const client of subscribers) {
      const updates = await client.waitForUpdates(topic, 200, 20_000);
      expect(updates.map((u) => u.watermark)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    }
  });

  it('a revoked session gets reauth_required and is closed on both instances; other sessions stay', async () => {
    const revoked = freshIdentity();
    const sameUserOtherSession = { ...revoked, sessionId: `${revoked.sessionId}_other` };
    const onLocal = await joined(local, revoked);
    const onRemote = await joined(remote, revoked);
    const unjoinedOnRemote = await RawPhoenixClient.connect(socketUrl(remote, await syncToken(local.keys, revoked)));
    clients.push(unjoinedOnRemote);
    const bystanders = [await joined(local, sameUserOtherSession), await joined(remote, sameUserOtherSession)];

    await writer.revoke(revoked, 'password_changed');
    // No timing assertion (the protocol's bound, §2, is a matter of LISTEN/NOTIFY or the poll
    // interval, not of this machine's load): every socket of the session is closed by the revocation.
    const closes = await Promise.all([onLocal, onRemote, unjoinedOnRemote].map((client) => client.closed));
    expect(closes.map((close) => close.code)).toEqual([4401, 4401, 4401]);
    for (const client of [onLocal, onRemote]) {
      expect(client.frames.find((f) => f[3] === 'sync:error')?.[4]).toEqual({
        code: 'reauth_required',
        message: expect.any(String),
        reauth_required: true,
        reason: 'password_changed',
      });
    }
    for (const client of bystanders) {
      expect((await client.request('sync:v1', 'sync:heartbeat', {}))[4]).toMatchObject({ status: 'ok' });
    }

    // A new socket of the revoked session (its token is still valid) cannot join: the join is refused
    // with reauth_required (§2), whether or not the revocation poll saw the socket first.
    const again = await RawPhoenixClient.connect(socketUrl(remote, await syncToken(local.keys, revoked)));
    clients.push(again);
    expect(await again.join()).toEqual({
      status: 'error',
      response: { code: 'reauth_required', message: expect.any(String), reauth_required: true, reason: 'password_changed' },
    });
    expect(again.frames.filter((f) => f[3] === 'sync:error')).toEqual([]);
  });
});
