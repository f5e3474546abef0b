import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { KhalaClient, Update, WebSocketConstructor } from '@khala/khala-client';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem, syncTokenFor } from '../support/system';
import { RuntimeApi } from '../runtime/support/runtime-api';

/**
 * Runtime accepts worker ids with `.` and `:` (POST /api/runtime/codex/workers, worker_id: letters,
 * digits and `. _ : -`); such a worker's entity topic `worker:<worker_id>:events` (docs/protocol/README.md
 * §3) must be subscribable like any other. The whole system: runtime command, projector, gateway.
 */
describe('entity topics of runtime ids with . and :', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(() => system.stop());

  it('the SDK subscribes to worker:<id>:events of a worker whose id has . and : and receives its events', async () => {
    const api = await RuntimeApi.as(system);
    const workerId = `host.example:wkr:${randomUUID().slice(0, 8)}`;
    const started = await api.post<{ worker_id: string }>('/api/runtime/codex/workers', { worker_id: workerId, workspace_ref: 'repo@main', adapter: 'codex' });
    expect(started).toMatchObject({ status: 201, body: { worker_id: workerId } });
    expect(await api.post(`/api/runtime/codex/workers/${encodeURIComponent(workerId)}/events`, { event: { event_type: 'worker.output', payload: { n: 1 } } })).toMatchObject({
      status: 202,
    });

    const topic = `worker:${workerId}:events`;
    const updates: Update[] = [];
    let lastError: unknown;
    const connect = async (): Promise<KhalaClient | undefined> => {
      const client = new KhalaClient({
        url: `${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket`,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        topics: [topic],
        token: () => syncTokenFor(system, api.identity, ['runtime.codex_worker_events']),
      });
      client.on('update', (update) => updates.push(update));
      const refused = new Promise<false>((resolve) => client.on('error', (error) => resolve(((lastError = error), false))));
      if (await Promise.race([client.start().then(() => true), refused])) return client;
      client.stop();
      return undefined;
    };
    // The projector writes the entity topic after the command commits; until its first row exists
    // the topic proves no ownership and the subscribe is forbidden, so try again until it is live.
    let client: KhalaClient | undefined;
    const deadline = Date.now() + 15_000;
    while (!(client = await connect())) {
      if (Date.now() > deadline) throw new Error(`never subscribed: ${JSON.stringify(lastError)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    try {
      while (updates.length < 2 && Date.now() < deadline + 15_000) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(updates.map((update) => update.topic)).toEqual([topic, topic]);
      expect(updates.map((update) => update.watermark)).toEqual([1, 2]);
      expect(JSON.stringify(updates.map((update) => update.payload))).toContain('worker.output');
    } finally {
      client.stop();
    }
  });
});
