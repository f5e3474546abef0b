import { openagents } from '@khala/contracts';
import { RawPhoenixClient } from '../support/phoenix-client';
import { ALL_SCOPES, freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from './support/gateway-harness';

/**
 * sync:v1 over raw `ws` frames against a real gateway and the real journal (docs/protocol/README.md
 * §1-§7): every refusal carries its documented code, changes nothing, and leaves the connection
 * and the server usable.
 */
describe('sync:v1 protocol over raw WebSocket frames', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    // Refusing an entity topic waits for the projection first (bounded); a short bound keeps this suite quick.
    gateway = await startGateway({ GATEWAY_RATE_LIMIT_PER_SECOND: '1000', GATEWAY_RATE_LIMIT_BURST: '1000', GATEWAY_OWNERSHIP_WAIT_MS: '300' });
    writer = await JournalWriter.open();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await writer.close();
    await gateway.stop();
  });

  async function connect(identity = freshIdentity(), scopes = ALL_SCOPES, target = gateway): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(target, await syncToken(target.keys, identity, scopes)));
    clients.push(client);
    return client;
  }

  async function joined(identity = freshIdentity(), scopes = ALL_SCOPES): Promise<RawPhoenixClient> {
    const client = await connect(identity, scopes);
    expect(await client.join()).toMatchObject({ status: 'ok' });
    return client;
  }

  it('joins sync:v1 with subscription_id, allowed topics from the token scopes and empty watermarks', async () => {
    const client = await connect(freshIdentity(), ['runtime.run_summaries', 'runtime.notifications', 'not.a.topic']);
    const reply = await client.join();
    expect(reply).toEqual({
      status: 'ok',
      response: {
        subscription_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        allowed_topics: ['runtime.run_summaries', 'runtime.notifications'],
        current_watermarks: [],
      },
    });
  });

  it('answers Phoenix heartbeats, refuses other channel topics with bad_topic, and events before join with not_joined', async () => {
    const client = await connect();
    expect((await client.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
    expect((await client.request('room:lobby', 'phx_join', {}))[4]).toMatchObject({ status: 'error', response: { code: 'bad_topic' } });
    expect((await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'] }))[4]).toMatchObject({
      status: 'error',
      response: { code: 'not_joined' },
    });
    expect(await client.join()).toMatchObject({ status: 'ok' });
  });

  it('serves the alias path /socket/websocket and the token in an Authorization header', async () => {
    const identity = freshIdentity();
    const token = await syncToken(gateway.keys, identity);
    const alias = await RawPhoenixClient.connect(`${gateway.url.replace('http', 'ws')}/socket/websocket?token=${token}&vsn=2.0.0`);
    clients.push(alias);
    expect(await alias.join()).toMatchObject({ status: 'ok' });
    const WebSocket = (await import('ws')).default;
    const header = new WebSocket(`${gateway.wsUrl}?vsn=2.0.0`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => header.once('open', resolve).once('error', reject));
    header.close();
  });

  it('refuses expired, wrongly signed and wrong-audience tokens before the upgrade with 401 and the code', async () => {
    const { TokenService, KeyRing } = await import('@khala/auth');
    const identity = freshIdentity();
    const expired = (await new TokenService(gateway.keys, () => Math.floor(Date.now() / 1000) - 3600).issueSyncToken(identity, ALL_SCOPES, 60)).token;
    await expect(RawPhoenixClient.connect(socketUrl(gateway, expired))).rejects.toMatchObject({ status: 401, body: expect.stringContaining('token_expired') });
    const otherKey = (await new TokenService(KeyRing.generate()).issueSyncToken(identity, ALL_SCOPES, 60)).token;
    await expect(RawPhoenixClient.connect(socketUrl(gateway, otherKey))).rejects.toMatchObject({ status: 401, body: expect.stringContaining('unknown_kid') });
    const access = (await new TokenService(gateway.keys).issueAccessToken(identity, 60)).token;
    await expect(RawPhoenixClient.connect(socketUrl(gateway, access))).rejects.toMatchObject({ status: 401, body: expect.stringContaining('claim_mismatch') });
  });

  it('answers malformed frames, wrong types, oversize frames and unknown events with their codes, and stays usable', async () => {
    const identity = freshIdentity();
    const client = await joined(identity);
    // What this tenant could change through a frame: its journal, its sequences, and runtime
    // authority. (Other test files write the shared database meanwhile, so count only ours.)
    const tenantState = () =>
      writer.db.query<{ journal: string; sequences: string; events: string }>(
        `SELECT (SELECT count(*) FROM khala.journal WHERE org_id = $1) AS journal,
                (SELECT count(*) FROM khala.topic_sequences WHERE org_id = $1) AS sequences,
                (SELECT count(*) FROM eventstore.events WHERE data->>'org_id' = $1) AS events`,
        [identity.orgId],
      );
    const before = await tenantState();

    client.socket.send('not json at all');
    await client.waitFor((f) => f[3] === 'sync:error' && f[4].code === 'bad_frame');
    client.socket.send(JSON.stringify({ event: 'sync:subscribe' }));
    client.socket.send(JSON.stringify(['1', '77', 'sync:v1', 'sync:subscribe', 'payload is a string']));
    expect((await client.reply('77'))[4]).toMatchObject({ status: 'error', response: { code: 'bad_frame' } });
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    client.socket.send('x'.repeat(70 * 1024));
    await client.waitFor((f) => f[3] === 'sync:error' && f[4].code === 'frame_too_large' && f[4].max_frame_bytes === 65536);

    const badSubscriptions: Record<string, unknown>[] = [
      {},
      { topics: [] },
      { topics: 'runtime.run_summaries' },
      { topics: [42] },
      { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': -1 } },
      { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 1.5 } },
      { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 'ten' } },
      { topics: ['runtime.run_summaries'], resume_after: [{ topic: 'runtime.run_summaries' }] },
      { topics: ['runtime.run_summaries'], resume_after: 5 },
      { topics: ['runtime.run_summaries'], resume_after: { 'runtime.notifications': 0 } },
      { topics: ['runtime.run_summaries'], replay_batch_size: 0 },
      { topics: ['runtime.run_summaries'], replay_batch_size: 201 },
      { topics: ['runtime.run_summaries'], request_id: 7 },
      { topics: Array.from({ length: 65 }, (_, i) => `run:r${i}:events`) },
    ];
    for (const payload of badSubscriptions) {
      const reply = await client.request('sync:v1', 'sync:subscribe', payload);
      expect([payload, reply[4]]).toEqual([payload, { status: 'error', response: expect.objectContaining({ code: 'bad_subscription', message: expect.any(String) }) }]);
    }
    // INV-02: an event that sounds like a command is just an unknown event; nothing is written.
    for (const event of ['sync:publish', 'runs:create', 'phx_push']) {
      expect((await client.request('sync:v1', event, { run_id: 'x' }))[4]).toMatchObject({ status: 'error', response: { code: 'unknown_event' } });
    }
    expect((await client.request('phoenix', 'shutdown', {}))[4]).toMatchObject({ status: 'error', response: { code: 'unknown_event' } });
    const after = await tenantState();
    expect(after.rows[0]).toEqual(before.rows[0]);

    // Still the same healthy connection: heartbeat, subscribe and a live update all work.
    expect((await client.request('sync:v1', 'sync:heartbeat', {}))[4]).toMatchObject({ status: 'ok', response: { watermarks: [] } });
    expect((await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'], resume_after: { 'runtime.notifications': '0' } }))[4]).toMatchObject({
      status: 'ok',
    });
    await writer.append('runtime.notifications', identity.orgId, [{ text: 'still alive' }]);
    expect(await client.waitForUpdates('runtime.notifications', 1)).toMatchObject([{ watermark: 1, payload: { text: 'still alive' } }]);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  it('rate-limits client events per connection with retry_after_ms, then accepts again', async () => {
    const limited = await startGateway({ GATEWAY_RATE_LIMIT_PER_SECOND: '5', GATEWAY_RATE_LIMIT_BURST: '5' });
    try {
      const client = await connect(freshIdentity(), ALL_SCOPES, limited);
      const refs = Array.from({ length: 12 }, () => client.send('phoenix', 'heartbeat', {}));
      const replies = await Promise.all(refs.map((ref) => client.reply(ref)));
      const refused = replies.filter((reply) => reply[4].status === 'error');
      expect(refused.length).toBeGreaterThanOrEqual(6);
      expect(refused[0][4]).toMatchObject({ response: { code: 'rate_limited', retry_after_ms: expect.any(Number) } });
      await new Promise((resolve) => setTimeout(resolve, (refused[0][4].response as { retry_after_ms: number }).retry_after_ms + 250));
      expect((await client.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
    } finally {
      await limited.stop();
    }
  });

  it('refuses topics outside the token scopes, unknown topics and other orgs\' entity topics with forbidden_topic, per topic', async () => {
    const owner = freshIdentity();
    const runId = `run_${owner.orgId}`;
    await writer.append(`run:${runId}:events`, owner.orgId, [{ type: 'started' }]);

    // The allowed topic is subscribed; the others are reported per topic in the ok reply.
    const narrow = await joined(freshIdentity(), ['runtime.run_summaries']);
    const refusal = { code: 'forbidden_topic', message: 'not allowed to subscribe to this topic' };
    expect(
      (await narrow.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries', 'runtime.notifications', 'nope'], resume_after: { 'runtime.run_summaries': 0 } }))[4],
    ).toEqual({
      status: 'ok',
      response: expect.objectContaining({
        topics: ['runtime.run_summaries'],
        refused_topics: [
          { topic: 'runtime.notifications', ...refusal },
          { topic: 'nope', ...refusal },
        ],
      }),
    });
    // Nothing allowed: one forbidden_topic error, as before, now also per topic.
    expect((await narrow.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications', 'nope'] }))[4]).toEqual({
      status: 'error',
      response: expect.objectContaining({
        code: 'forbidden_topic',
        forbidden_topics: ['runtime.notifications', 'nope'],
        refused_topics: [
          { topic: 'runtime.notifications', ...refusal },
          { topic: 'nope', ...refusal },
        ],
      }),
    });

    const stranger = await joined(freshIdentity());
    expect((await stranger.request('sync:v1', 'sync:subscribe', { topics: [`run:${runId}:events`] }))[4]).toMatchObject({
      status: 'error',
      response: { code: 'forbidden_topic', forbidden_topics: [`run:${runId}:events`] },
    });

    const ownerWithoutScope = await joined(owner, ['runtime.run_summaries']);
    expect((await ownerWithoutScope.request('sync:v1', 'sync:subscribe', { topics: [`run:${runId}:events`] }))[4]).toMatchObject({
      status: 'error',
      response: { code: 'forbidden_topic' },
    });

    const ownerClient = await joined(owner);
    const ok = await ownerClient.request('sync:v1', 'sync:subscribe', { topics: [`run:${runId}:events`] });
    expect(ok[4]).toMatchObject({ status: 'ok', response: { current_watermarks: [{ topic: `run:${runId}:events`, watermark: 1 }] } });
    expect(ownerClient.updates(`run:${runId}:events`)).toMatchObject([{ watermark: 1, payload: { type: 'started' } }]);
  });

  it('partitions class topics by org: each org sees only its own dense sequence', async () => {
    const a = freshIdentity();
    const b = freshIdentity();
    await writer.append('runtime.run_summaries', a.orgId, [{ org: 'a', n: 1 }, { org: 'a', n: 2 }]);
    await writer.append('runtime.run_summaries', b.orgId, [{ org: 'b', n: 1 }]);
    const clientA = await joined(a);
    const clientB = await joined(b);
    // Cursor 0: replay the whole retained sequence (without a cursor a snapshot topic answers with the snapshot plan).
    await clientA.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 0 } });
    await clientB.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 0 } });
    await writer.append('runtime.run_summaries', b.orgId, [{ org: 'b', n: 2 }]);
    await writer.append('runtime.run_summaries', a.orgId, [{ org: 'a', n: 3 }]);
    const updatesA = await clientA.waitForUpdates('runtime.run_summaries', 3);
    const updatesB = await clientB.waitForUpdates('runtime.run_summaries', 2);
    expect(updatesA.map((u) => [u.watermark, (u.payload as { org: string }).org])).toEqual([[1, 'a'], [2, 'a'], [3, 'a']]);
    expect(updatesB.map((u) => [u.watermark, (u.payload as { org: string }).org])).toEqual([[1, 'b'], [2, 'b']]);
  });

  it('replays in batches of at most replay_batch_size, marks the last replay batch complete, and replies after replay', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.run_events', identity.orgId, Array.from({ length: 25 }, (_, i) => ({ i })));
    const client = await joined(identity);
    const ref = client.send('sync:v1', 'sync:subscribe', {
      topics: ['runtime.run_events'],
      resume_after: [{ topic: 'runtime.run_events', watermark: 3 }],
      replay_batch_size: 10,
      request_id: 'req-1',
    });
    const reply = await client.reply(ref);
    expect(reply[4]).toEqual({
      status: 'ok',
      response: {
        subscription_id: expect.any(String),
        topics: ['runtime.run_events'],
        current_watermarks: [{ topic: 'runtime.run_events', watermark: 25 }],
        retained_from: [{ topic: 'runtime.run_events', watermark: 1 }],
        request_id: 'req-1',
      },
    });
    const replyIndex = client.frames.indexOf(reply);
    const batches = client.frames.slice(0, replyIndex).filter((f) => f[3] === 'sync:update_batch').map((f) => f[4]);
    expect(batches.map((b) => (b.updates as unknown[]).length)).toEqual([10, 10, 2]);
    expect(batches.map((b) => b.replay_complete)).toEqual([false, false, true]);
    expect(batches[0].head_watermarks).toEqual([{ topic: 'runtime.run_events', watermark: 25 }]);
    expect(client.updates().map((u) => u.watermark)).toEqual(Array.from({ length: 22 }, (_, i) => i + 4));
    expect(client.updates()[0]).toEqual({
      topic: 'runtime.run_events',
      doc_key: expect.any(String),
      doc_version: 1,
      payload: { i: 3 },
      payload_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      watermark: 4,
      hydration_required: false,
    });
    expect((await client.request('sync:v1', 'sync:heartbeat', {}))[4]).toMatchObject({
      response: { watermarks: [{ topic: 'runtime.run_events', watermark: 25 }] },
    });
  });

  it('keeps replay batches within 200 updates and 2 MiB, always admitting the first update', async () => {
    const identity = freshIdentity();
    const big = 'x'.repeat(200 * 1024);
    await writer.append('runtime.notifications', identity.orgId, Array.from({ length: 12 }, (_, i) => ({ i, big })));
    await writer.append('runtime.notifications', identity.orgId, Array.from({ length: 230 }, (_, i) => ({ small: i })));
    const client = await joined(identity);
    await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'] });
    const batches = client.frames.filter((f) => f[3] === 'sync:update_batch');
    for (const batch of batches) {
      expect((batch[4].updates as unknown[]).length).toBeLessThanOrEqual(200);
      expect(Buffer.byteLength(JSON.stringify(batch[4]))).toBeLessThanOrEqual(2 * 1024 * 1024 + 1024);
    }
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(client.updates().map((u) => u.watermark)).toEqual(Array.from({ length: 242 }, (_, i) => i + 1));
  });

  it('refuses a cursor ahead of the head with bad_subscription', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.run_events', identity.orgId, [{ a: 1 }, { a: 2 }]);
    const client = await joined(identity);
    const reply = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events'], resume_after: { 'runtime.run_events': 3 } });
    expect(reply[4]).toMatchObject({ status: 'error', response: { code: 'bad_subscription', topics: ['runtime.run_events'] } });
    const fresh = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'], resume_after: { 'runtime.notifications': 1 } });
    expect(fresh[4]).toMatchObject({ status: 'error', response: { code: 'bad_subscription' } });
  });

  it('answers stale_cursor for a cursor below the durable retention floor, with the snapshot plan', async () => {
    const identity = freshIdentity();
    await writer.append('runtime.run_summaries', identity.orgId, Array.from({ length: 10 }, (_, i) => ({ i })));
    await writer.prune('runtime.run_summaries', identity.orgId, 6);
    const client = await joined(identity);
    const reply = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 3 } });
    expect(reply[4]).toEqual({
      status: 'error',
      response: {
        code: 'stale_cursor',
        message: expect.any(String),
        full_resync_required: true,
        reason_codes: ['retention_floor_breach'],
        stale_topics: [
          {
            topic: 'runtime.run_summaries',
            reason: 'retention_floor_breach',
            qos_tier: 'snapshot_backed',
            resume_after: 3,
            retention_floor: 5,
            head_watermark: 10,
            replay_lag: 7,
            replay_budget_events: 20000,
          },
        ],
        snapshot_plan: {
          format: 'openagents.sync.snapshot.v1',
          topics: [{ topic: 'runtime.run_summaries', head_watermark: 10, snapshot_url: '/api/sync/snapshot?topic=runtime.run_summaries' }],
        },
      },
    });
    // The decoder of the proto contract accepts the payload as it is.
    expect(openagents.sync.v1.SyncError.fromObject(reply[4].response as Record<string, unknown>).stale_topics[0].retention_floor).toBe(5);
    // Exactly at the floor is still resumable: rows 6..10 are all there.
    const ok = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 5 } });
    expect(ok[4]).toMatchObject({ status: 'ok' });
    expect(client.updates().map((u) => u.watermark)).toEqual([6, 7, 8, 9, 10]);
  });

  it('answers stale_cursor when the backlog exceeds the replay budget, and a no-cursor subscribe on a snapshot topic gets the snapshot plan', async () => {
    const identity = freshIdentity();
    // runtime.notifications has a budget of 500 and no snapshot.
    for (let i = 0; i < 6; i++) await writer.append('runtime.notifications', identity.orgId, Array.from({ length: 100 }, (_, j) => ({ j })));
    const client = await joined(identity);
    const reply = await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'], resume_after: { 'runtime.notifications': 50 } });
    expect(reply[4]).toMatchObject({
      status: 'error',
      response: {
        code: 'stale_cursor',
        reason_codes: ['replay_budget_exceeded'],
        stale_topics: [{ topic: 'runtime.notifications', reason: 'replay_budget_exceeded', qos_tier: 'replay_only', resume_after: 50, head_watermark: 600, replay_lag: 550, replay_budget_events: 500 }],
        snapshot_plan: { format: 'openagents.sync.snapshot.v1', topics: [] },
      },
    });
    // Within the budget is fine.
    expect((await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'], resume_after: { 'runtime.notifications': 100 } }))[4]).toMatchObject({ status: 'ok' });

    // A snapshot topic with no cursor: the snapshot plan, not a replay (whatever the journal size; here more than its budget of 20 000).
    const org = freshIdentity();
    await writer.db.query(`INSERT INTO khala.topic_sequences (topic, org_id, head_watermark) VALUES ('runtime.run_summaries', $1, 25000)`, [org.orgId]);
    const bootstrap = await joined(org);
    const plan = await bootstrap.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'] });
    expect(plan[4]).toMatchObject({
      status: 'error',
      response: {
        code: 'stale_cursor',
        full_resync_required: true,
        reason_codes: ['cursor_missing'],
        snapshot_plan: { topics: [{ topic: 'runtime.run_summaries', head_watermark: 25000 }] },
      },
    });
    expect(bootstrap.updates()).toEqual([]);
  });

  it('unsubscribes topics and reports the remaining ones', async () => {
    const identity = freshIdentity();
    const client = await joined(identity);
    await client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events', 'runtime.notifications'] });
    const reply = await client.request('sync:v1', 'sync:unsubscribe', { topics: ['runtime.run_events'] });
    expect(reply[4]).toMatchObject({ status: 'ok', response: { topics: ['runtime.notifications'] } });
    await writer.append('runtime.run_events', identity.orgId, [{ dropped: true }]);
    await writer.append('runtime.notifications', identity.orgId, [{ kept: true }]);
    await client.waitForUpdates('runtime.notifications', 1);
    expect(client.updates('runtime.run_events')).toEqual([]);
  });

  it('sends KhalaFrame envelopes (sync:frame, base64 proto) only to clients that join with frames: true', async () => {
    const identity = freshIdentity();
    const framed = await connect(identity);
    expect(await framed.join({ frames: true })).toMatchObject({ status: 'ok' });
    const plain = await joined(identity);
    await framed.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'] });
    await plain.request('sync:v1', 'sync:subscribe', { topics: ['runtime.notifications'] });
    await writer.append('runtime.notifications', identity.orgId, [{ hello: 'frames' }]);
    const frame = await framed.waitFor((f) => f[3] === 'sync:frame');
    await plain.waitForUpdates('runtime.notifications', 1);
    expect(framed.frames.some((f) => f[3] === 'sync:update_batch')).toBe(false);
    expect(plain.frames.some((f) => f[3] === 'sync:frame')).toBe(false);
    expect(frame[4]).toMatchObject({ topic: 'runtime.notifications', seq: 1, kind: 'update_batch', schema_version: 1 });
    const batch = openagents.sync.v1.UpdateBatch.toObject(
      openagents.sync.v1.UpdateBatch.decode(Buffer.from(frame[4].payload as string, 'base64')),
    ) as { updates: Record<string, unknown>[]; replay_complete: boolean };
    expect(batch.updates).toMatchObject([{ topic: 'runtime.notifications', watermark: 1, payload: { hello: 'frames' } }]);
    expect(batch.replay_complete).toBe(true);
  });

  it('delivers a topic subscribed to by many sockets once to each, in order', async () => {
    const identity = freshIdentity();
    const many = await Promise.all(Array.from({ length: 20 }, () => joined(identity)));
    await Promise.all(many.map((client) => client.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events'] })));
    for (let i = 0; i < 10; i++) await writer.append('runtime.run_events', identity.orgId, [{ i }, { i, second: true }]);
    for (const client of many) {
      const updates = await client.waitForUpdates('runtime.run_events', 20);
      expect(updates.map((u) => u.watermark)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });
});
