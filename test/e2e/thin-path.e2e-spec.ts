import { RunningSystem } from '../../apps/embedded/src/embedded';
import { RawPhoenixClient } from '../support/phoenix-client';
import { accessTokenFor, freshIdentity, startTestSystem, syncTokenFor } from '../support/system';

/**
 * The foundation's thin path, end to end over real sockets: an HTTP command appends RunCreated,
 * the projector writes the summary and journal watermark 1, and a WebSocket subscriber gets it.
 */
describe('thin path: POST run → event store → projector → journal → WebSocket', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(() => system.stop());

  it('every app serves health, metrics and OpenAPI', async () => {
    for (const base of Object.values(system.urls)) {
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { status: string }).status).toBe('ok');
      const metrics = await fetch(`${base}/metrics`);
      expect(await metrics.text()).toContain('khala_process_cpu_user_seconds_total');
      expect((await fetch(`${base}/docs-json`)).status).toBe(200);
    }
  });

  it('delivers the new run summary at watermark 1 to a subscriber of runtime.run_summaries', async () => {
    const identity = freshIdentity();
    const created = await fetch(`${system.urls.runtime}/api/runtime/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await accessTokenFor(system, identity)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ thread_id: 'thread-1', metadata: { purpose: 'thin path' } }),
    });
    expect(created.status).toBe(201);
    const { run_id: runId, status, revision } = (await created.json()) as { run_id: string; status: string; revision: number };
    expect(status).toBe('created');
    expect(revision).toBe(0);

    const token = await syncTokenFor(system, identity, ['runtime.run_summaries']);
    const client = await RawPhoenixClient.connect(
      `${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket?token=${token}&vsn=2.0.0`,
    );
    try {
      const join = await client.reply(client.send('sync:v1', 'phx_join', {}));
      expect(join[4]).toMatchObject({ status: 'ok' });
      // Cursor 0 replays the whole (unpruned) sequence; without a cursor a snapshot topic answers with the snapshot plan.
      client.send('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 0 } });
      const batch = await client.waitFor(
        (frame) =>
          frame[3] === 'sync:update_batch' &&
          (frame[4].updates as { doc_key: string }[]).some((update) => update.doc_key === `run_summary:${runId}`),
      );
      const update = (batch[4].updates as Record<string, unknown>[]).find((u) => u.doc_key === `run_summary:${runId}`)!;
      expect(update).toMatchObject({
        topic: 'runtime.run_summaries',
        watermark: 1,
        doc_version: 1,
        hydration_required: false,
        payload: { run_id: runId, org_id: identity.orgId, status: 'created', thread_id: 'thread-1' },
      });
      expect(update.payload_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    } finally {
      await client.close();
    }

    const read = await fetch(`${system.urls.runtime}/api/runtime/runs/${runId}`, {
      headers: { authorization: `Bearer ${await accessTokenFor(system, identity)}` },
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ run_id: runId, status: 'created', watermark: 1 });
  });

  it('refuses the WebSocket upgrade with 401 and a JSON code when the token is missing or bad', async () => {
    const base = `${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket?vsn=2.0.0`;
    await expect(RawPhoenixClient.connect(base)).rejects.toMatchObject({ status: 401, body: expect.stringContaining('missing_token') });
    await expect(RawPhoenixClient.connect(`${base}&token=not.a.jwt`)).rejects.toMatchObject({
      status: 401,
      body: expect.stringContaining('invalid_token'),
    });
  });

  it('another org cannot read the run', async () => {
    const owner = freshIdentity();
    const created = await fetch(`${system.urls.runtime}/api/runtime/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await accessTokenFor(system, owner)}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const { run_id: runId } = (await created.json()) as { run_id: string };
    const stranger = await fetch(`${system.urls.runtime}/api/runtime/runs/${runId}`, {
      headers: { authorization: `Bearer ${await accessTokenFor(system, freshIdentity())}` },
    });
    expect(stranger.status).toBe(404);
    expect(await stranger.json()).toMatchObject({ code: 'run_not_found' });
  });
});
