import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { ApiResponse, RuntimeApi } from './support/runtime-api';

/**
 * The codex worker lifecycle has an end reachable through the documented API
 * (docs/state-machines.md): stop → stopping; heartbeats are then refused (worker_stopping), which
 * is how the worker learns of the stop; its `worker.stopped` event ends it; `force` ends it without
 * the worker. `GET /api/runtime/codex/workers/:id?min_revision=` reads each state right after the
 * command that produced it (projectors on).
 */
describe('codex worker lifecycle over HTTP', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem();
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system?.stop());

  const workers = '/api/runtime/codex/workers';
  const event = (id: string, eventType: string, payload: Record<string, unknown> = {}) =>
    api.post(`${workers}/${id}/events`, { event: { event_type: eventType, payload } });

  /** A client reading its own write: GET with the command's revision, retrying a 503 read_model_behind. */
  async function readAfter(id: string, command: ApiResponse): Promise<ApiResponse> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const reply = await api.get(`${workers}/${id}?min_revision=${command.body.revision as number}`);
      if (reply.status !== 503 || Date.now() > deadline) return reply;
      expect(reply.body).toMatchObject({ code: 'read_model_behind' });
      await new Promise((resolve) => setTimeout(resolve, (reply.body.details as { retry_after_ms: number }).retry_after_ms));
    }
  }

  it('starting → running → stopping → (worker acknowledges) → stopped, each read right after its command', async () => {
    const started = await api.post(workers, { workspace_ref: 'repo@main', adapter: 'codex' });
    expect(started).toMatchObject({ status: 201, body: { status: 'starting', revision: 0 } });
    const id = started.body.worker_id as string;
    expect(await readAfter(id, started)).toMatchObject({
      status: 200,
      body: { worker_id: id, status: 'starting', heartbeat_freshness: 'missing', revision: 0, doc_version: 1 },
    });

    const output = await event(id, 'worker.output', { line: 'hello' });
    expect(output).toMatchObject({ status: 202, body: { status: 'running', revision: 1 } });
    const beat = await api.post(`${workers}/${id}/heartbeat`, {});
    expect(beat).toMatchObject({ status: 202, body: { status: 'running', revision: 2 } });
    expect(await readAfter(id, beat)).toMatchObject({ status: 200, body: { status: 'running', heartbeat_freshness: 'fresh', event_count: 1 } });

    const stop = await api.post(`${workers}/${id}/stop`, { reason: 'done' });
    expect(stop).toMatchObject({ status: 202, body: { status: 'stopping', revision: 3 } });
    expect(await readAfter(id, stop)).toMatchObject({ status: 200, body: { status: 'stopping', stop_reason: 'done', revision: 3 } });

    // The stop reaches the worker through its heartbeat: refused, with what to send instead.
    expect(await api.post(`${workers}/${id}/heartbeat`, {})).toMatchObject({
      status: 409,
      body: { code: 'worker_stopping', details: { status: 'stopping', acknowledge_with: 'worker.stopped' } },
    });
    // It may still flush its output, then acknowledges.
    expect(await event(id, 'worker.output', { line: 'last words' })).toMatchObject({ status: 202, body: { status: 'stopping' } });
    const acknowledged = await event(id, 'worker.stopped', { reason: 'clean exit' });
    expect(acknowledged).toMatchObject({ status: 202, body: { status: 'stopped', revision: 6 } });
    expect(await readAfter(id, acknowledged)).toMatchObject({
      status: 200,
      body: { status: 'stopped', stop_reason: 'clean exit', event_count: 3, revision: 6 },
    });

    for (const call of [() => api.post(`${workers}/${id}/heartbeat`, {}), () => event(id, 'worker.output'), () => api.post(`${workers}/${id}/stop`, {})]) {
      expect(await call()).toMatchObject({ status: 409, body: { code: 'worker_stopped', details: { status: 'stopped' } } });
    }
  });

  it('stop with force ends a worker that will never acknowledge', async () => {
    const id = (await api.post(workers, { workspace_ref: 'w', adapter: 'codex' })).body.worker_id as string;
    await event(id, 'worker.output');
    expect(await api.post(`${workers}/${id}/stop`, {})).toMatchObject({ status: 202, body: { status: 'stopping' } });
    const forced = await api.post(`${workers}/${id}/stop`, { reason: 'unresponsive', force: true });
    expect(forced).toMatchObject({ status: 202, body: { status: 'stopped', revision: 3 } });
    expect(await readAfter(id, forced)).toMatchObject({ status: 200, body: { status: 'stopped', stop_reason: 'unresponsive' } });
    expect(await api.post(`${workers}/${id}/heartbeat`, {})).toMatchObject({ status: 409, body: { code: 'worker_stopped' } });
  });

  it('start with an Idempotency-Key replays the same response, revision included', async () => {
    const key = `lifecycle-${Date.now()}-${Math.random()}`;
    const first = await api.post(workers, { workspace_ref: 'w', adapter: 'codex' }, { 'idempotency-key': key });
    const again = await api.post(workers, { workspace_ref: 'w', adapter: 'codex' }, { 'idempotency-key': key });
    expect(first).toMatchObject({ status: 201, body: { status: 'starting', revision: 0 } });
    expect(again.body).toEqual(first.body);
  });

  it('GET of another org’s worker answers exactly like a nonexistent one', async () => {
    const id = `lc-${Math.random().toString(36).slice(2, 10)}`;
    const started = await api.post(workers, { worker_id: id, workspace_ref: 'secret', adapter: 'codex' });
    expect(await readAfter(id, started)).toMatchObject({ status: 200, body: { worker_id: id } });
    const stranger = await RuntimeApi.as(system);
    const missing = `lc-${Math.random().toString(36).slice(2, 10)}`;
    for (const query of ['', '?min_revision=0', '?min_revision=3']) {
      const theirs = await stranger.get(`${workers}/${id}${query}`);
      const none = await stranger.get(`${workers}/${missing}${query}`);
      expect(theirs).toMatchObject({ status: 404, body: { code: 'worker_not_found' } });
      const masked = (reply: ApiResponse, wid: string) => ({ ...reply.body, correlation_id: undefined, message: String(reply.body.message).replace(wid, '<id>') });
      expect(masked(theirs, id)).toEqual(masked(none, missing));
    }
    expect(await stranger.get(`${workers}/${id}?min_revision=-1`)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
  });
});
