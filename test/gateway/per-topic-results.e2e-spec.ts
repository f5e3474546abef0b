import WebSocket from 'ws';
import { KhalaClient, SyncErrorPayload, Update, WebSocketConstructor } from '@khala/khala-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { eventually, withinDeadline } from './support/conditions';
import { freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway, TestIdentity } from './support/gateway-harness';

/**
 * A subscribe naming several topics reports per topic (docs/protocol/README.md §4, §7): the allowed
 * topics are subscribed and replayed, the refused ones are listed in the reply, and an entity the
 * projection does not show yet holds up only the reply, not the other topics' replay. The SDK
 * reports each refused topic as an `error` naming it and goes live for the rest.
 */
describe('per-topic subscribe results', () => {
  /** Refuses after 300 ms: refusals are quick to test. */
  let quick: TestGateway;
  /** Waits up to 15 s for an entity: long enough that the test, not the bound, decides what happens first. */
  let patient: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    quick = await startGateway({ GATEWAY_OWNERSHIP_WAIT_MS: '300' });
    patient = await startGateway({ GATEWAY_OWNERSHIP_WAIT_MS: '15000' }, quick.keys);
    writer = await JournalWriter.open();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer.close();
    await patient.stop();
    await quick.stop();
  });

  async function joined(identity: TestIdentity, gateway = quick): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
    clients.push(client);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    return client;
  }

  /** An org with 3 run_events, its own run topic with 2 updates, and a run of another org. */
  async function orgWithRuns(): Promise<{ identity: TestIdentity; ownRun: string; foreignRun: string }> {
    const identity = freshIdentity();
    const other = freshIdentity();
    const ownRun = `run_own_${identity.orgId}`;
    const foreignRun = `run_foreign_${other.orgId}`;
    await writer.append('runtime.run_events', identity.orgId, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    await writer.append(`run:${ownRun}:events`, identity.orgId, [{ type: 'started' }, { type: 'text' }]);
    await writer.append(`run:${foreignRun}:events`, other.orgId, [{ secret: other.orgId }]);
    return { identity, ownRun, foreignRun };
  }

  it('subscribes and replays the allowed topics and reports the refused ones in the ok reply', async () => {
    const { identity, ownRun, foreignRun } = await orgWithRuns();
    const client = await joined(identity);
    const topics = [`run:${foreignRun}:events`, 'runtime.run_events', 'nope', `run:${ownRun}:events`];
    const reply = await client.request('sync:v1', 'sync:subscribe', { topics, resume_after: { [`run:${ownRun}:events`]: 1 } });
    const refusal = { code: 'forbidden_topic', message: 'not allowed to subscribe to this topic' };
    expect(reply[4]).toEqual({
      status: 'ok',
      response: {
        subscription_id: expect.any(String),
        topics: ['runtime.run_events', `run:${ownRun}:events`],
        current_watermarks: [
          { topic: 'runtime.run_events', watermark: 3 },
          { topic: `run:${ownRun}:events`, watermark: 2 },
        ],
        retained_from: [
          { topic: 'runtime.run_events', watermark: 1 },
          { topic: `run:${ownRun}:events`, watermark: 1 },
        ],
        refused_topics: [
          { topic: `run:${foreignRun}:events`, ...refusal },
          { topic: 'nope', ...refusal },
        ],
      },
    });
    expect(client.updates('runtime.run_events').map((update) => update.watermark)).toEqual([1, 2, 3]);
    expect(client.updates(`run:${ownRun}:events`).map((update) => update.watermark)).toEqual([2]);
    expect(client.updates(`run:${foreignRun}:events`)).toEqual([]);

    // Live for what was subscribed.
    await writer.append('runtime.run_events', identity.orgId, [{ n: 4 }]);
    expect((await client.waitForUpdates('runtime.run_events', 4)).map((update) => update.watermark)).toEqual([1, 2, 3, 4]);
  });

  it('an entity the projection does not show yet holds up only the reply: the other topics replay meanwhile', async () => {
    const { identity } = await orgWithRuns();
    const lateRun = `run_late_${identity.orgId}`;
    const client = await joined(identity, patient);
    const ref = client.send('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events', `run:${lateRun}:events`] });
    // The class topic's replay arrives while the run is still unknown.
    await client.waitForUpdates('runtime.run_events', 3);
    expect(client.frames.some((frame) => frame[1] === ref)).toBe(false);
    // The projector catches up: the run's topic appears under the caller's org.
    await writer.append(`run:${lateRun}:events`, identity.orgId, [{ type: 'created' }]);
    const reply = await client.reply(ref, 20_000);
    expect(reply[4]).toMatchObject({
      status: 'ok',
      response: {
        topics: ['runtime.run_events', `run:${lateRun}:events`],
        current_watermarks: [
          { topic: 'runtime.run_events', watermark: 3 },
          { topic: `run:${lateRun}:events`, watermark: 1 },
        ],
      },
    });
    expect(reply[4].response).not.toHaveProperty('refused_topics');
    expect(client.updates(`run:${lateRun}:events`)).toMatchObject([{ watermark: 1, payload: { type: 'created' } }]);
  });

  it('the SDK reports a refused topic as an error naming it, and start() resolves for the rest', async () => {
    const { identity, foreignRun } = await orgWithRuns();
    const client = new KhalaClient({
      url: quick.wsUrl,
      token: () => syncToken(quick.keys, identity),
      topics: ['runtime.run_events', `run:${foreignRun}:events`],
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const errors: SyncErrorPayload[] = [];
    const updates: Update[] = [];
    client.on('error', (error) => errors.push(error as SyncErrorPayload));
    client.on('update', (update) => updates.push(update));
    try {
      await withinDeadline(client.start(), 'start()');
      expect(errors).toEqual([{ code: 'forbidden_topic', message: 'not allowed to subscribe to this topic', topic: `run:${foreignRun}:events` }]);
      expect(updates.map((update) => [update.topic, update.watermark])).toEqual([
        ['runtime.run_events', 1],
        ['runtime.run_events', 2],
        ['runtime.run_events', 3],
      ]);
      await writer.append('runtime.run_events', identity.orgId, [{ n: 4 }]);
      await eventually(() => client.watermark('runtime.run_events') === 4, 'the live update');
      expect(client.status).toBe('live');
    } finally {
      client.stop();
    }
  });

  it('the SDK rejects start() and stops when none of its topics can be subscribed', async () => {
    const { foreignRun } = await orgWithRuns();
    const identity = freshIdentity();
    const client = new KhalaClient({
      url: quick.wsUrl,
      token: () => syncToken(quick.keys, identity),
      topics: [`run:${foreignRun}:events`, 'runtime.nope'],
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const errors: SyncErrorPayload[] = [];
    client.on('error', (error) => errors.push(error as SyncErrorPayload));
    try {
      await expect(withinDeadline(client.start(), 'start()')).rejects.toThrow(/no topic could be subscribed/);
      expect(errors.map((error) => [error.code, error.topic])).toEqual([
        ['forbidden_topic', `run:${foreignRun}:events`],
        ['forbidden_topic', 'runtime.nope'],
      ]);
      expect(client.status).toBe('stopped');
    } finally {
      client.stop();
    }
  });
});
