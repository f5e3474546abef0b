import { RunningSystem } from '../../apps/embedded/src/embedded';
import { RawPhoenixClient } from '../support/phoenix-client';
import { accessTokenFor, freshIdentity, startTestSystem, syncTokenFor, TestIdentity } from '../support/system';
import { startGateway, TestGateway } from './support/gateway-harness';

/**
 * Subscribing to a run right after creating it (docs/protocol/README.md §7): the gateway reads ownership
 * from the projection, which lags the 201, so it waits (bounded) for the projection instead of
 * refusing. Foreign and nonexistent ids still get one identical refusal, and the wait holds up
 * neither other connections nor the waiting connection's heartbeats.
 */
describe('subscribe right after create', () => {
  let system: RunningSystem;
  /** A second gateway on the same database with a long bound, so "the wait blocks nothing" is an order of events, not a race with the bound. */
  let patient: TestGateway;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    system = await startTestSystem();
    patient = await startGateway({ GATEWAY_OWNERSHIP_WAIT_MS: '8000' }, system.keys);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await patient.stop();
    await system.stop();
  });

  async function createRun(identity: TestIdentity): Promise<string> {
    const response = await fetch(`${system.urls.runtime}/api/runtime/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await accessTokenFor(system, identity)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ thread_id: 'thread-1' }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { run_id: string }).run_id;
  }

  async function joined(identity: TestIdentity, gatewayUrl = system.urls.gateway): Promise<RawPhoenixClient> {
    const token = await syncTokenFor(system, identity, ['runtime.run_events', 'runtime.notifications']);
    const client = await RawPhoenixClient.connect(`${gatewayUrl.replace('http', 'ws')}/sync/socket/websocket?token=${token}&vsn=2.0.0`);
    clients.push(client);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    return client;
  }

  it('POST /runs → 201 → an immediate subscribe to run:<id>:events succeeds, 20 of 20, and delivers the run', async () => {
    const identity = freshIdentity();
    const client = await joined(identity);
    const outcomes: string[] = [];
    const runIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const runId = await createRun(identity);
      runIds.push(runId);
      const reply = await client.request('sync:v1', 'sync:subscribe', { topics: [`run:${runId}:events`] }, 30_000);
      outcomes.push(reply[4].status === 'ok' ? 'ok' : JSON.stringify(reply[4]));
    }
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => 'ok'));
    for (const runId of runIds) {
      const [created] = await client.waitForUpdates(`run:${runId}:events`, 1, 20_000);
      expect(created).toMatchObject({ topic: `run:${runId}:events`, watermark: 1 });
    }
  });

  it('foreign and nonexistent ids get one identical refusal; the wait blocks neither other connections nor heartbeats', async () => {
    const owner = freshIdentity();
    const runId = await createRun(owner);
    const ownerClient = await joined(owner);
    // The owner's subscribe proves the run is projected, so the stranger's refusal is about ownership, not lag.
    expect((await ownerClient.request('sync:v1', 'sync:subscribe', { topics: [`run:${runId}:events`] }, 30_000))[4]).toMatchObject({ status: 'ok' });

    const strangerIdentity = freshIdentity();
    const stranger = await joined(strangerIdentity, patient.url);
    const strangerAgain = await joined(strangerIdentity, patient.url);
    const missing = `run_${runId.slice(4)}x`;
    const order: string[] = [];
    const refusal = (client: RawPhoenixClient, topic: string, what: string) =>
      client.request('sync:v1', 'sync:subscribe', { topics: [topic] }, 30_000).then((reply) => {
        order.push(what);
        return reply[4];
      });
    const atForeign = refusal(stranger, `run:${runId}:events`, 'foreign refused');
    const atMissing = refusal(strangerAgain, `run:${missing}:events`, 'nonexistent refused');
    // While both wait for the bound: the waiting socket's heartbeat is answered, another socket subscribes.
    expect((await stranger.request('sync:v1', 'sync:heartbeat', {}))[4]).toMatchObject({ status: 'ok' });
    order.push('heartbeat');
    const other = await joined(freshIdentity(), patient.url);
    expect((await other.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'] }))[4]).toMatchObject({ status: 'ok' });
    order.push('other subscribed');
    const [foreign, nonexistent] = await Promise.all([atForeign, atMissing]);

    expect(order.slice(0, 2)).toEqual(['heartbeat', 'other subscribed']);
    expect(order.slice(2).sort()).toEqual(['foreign refused', 'nonexistent refused']);
    expect(foreign).toEqual({
      status: 'error',
      response: {
        code: 'forbidden_topic',
        message: 'not allowed to subscribe to these topics',
        forbidden_topics: [`run:${runId}:events`],
        refused_topics: [{ topic: `run:${runId}:events`, code: 'forbidden_topic', message: 'not allowed to subscribe to this topic' }],
      },
    });
    expect(JSON.parse(JSON.stringify(nonexistent).split(missing).join('<id>'))).toEqual(JSON.parse(JSON.stringify(foreign).split(runId).join('<id>')));
    expect(stranger.updates()).toEqual([]);
  });
});
