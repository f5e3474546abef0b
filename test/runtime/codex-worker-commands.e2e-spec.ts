import { randomUUID } from 'node:crypto';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { encodeEventData } from '@khala/contracts';
import { PostgresEventStore } from '@khala/eventstore';
import { startTestSystem } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { RuntimeApi } from './support/runtime-api';

/** Codex worker commands over HTTP; the snapshot route folds the worker stream (projectors off). */
describe('runtime codex worker commands over HTTP', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system.stop());

  const start = async (body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
    api.post<{ worker_id: string; status: string }>('/api/runtime/codex/workers', { workspace_ref: 'repo@main', adapter: 'codex', ...body }, headers);
  const snapshot = (id: string) => api.get<Record<string, unknown>>(`/api/runtime/codex/workers/${id}/snapshot`);
  const event = (id: string, eventType: string, payload: Record<string, unknown> = {}) =>
    api.post(`/api/runtime/codex/workers/${id}/events`, { event: { event_type: eventType, payload } });

  it('lives through starting → running → stopping → stopped; then accepts no requests', async () => {
    const started = await start();
    expect(started).toMatchObject({ status: 201, body: { status: 'starting' } });
    const id = started.body.worker_id;
    expect(id).toMatch(/^wkr_/);
    expect((await snapshot(id)).body).toMatchObject({
      worker_id: id,
      org_id: api.identity.orgId,
      status: 'starting',
      workspace_ref: 'repo@main',
      adapter: 'codex',
      started_by_user_id: api.identity.userId,
      heartbeat_freshness: 'missing',
      event_count: 0,
    });

    expect(await event(id, 'worker.output', { line: 'hello' })).toMatchObject({ status: 202, body: { status: 'running' } });
    expect(await api.post(`/api/runtime/codex/workers/${id}/heartbeat`, {})).toMatchObject({ status: 202 });
    expect((await snapshot(id)).body).toMatchObject({ status: 'running', heartbeat_freshness: 'fresh', last_event_type: 'worker.output', event_count: 1 });

    expect(await api.post(`/api/runtime/codex/workers/${id}/stop`, { reason: 'done' })).toMatchObject({ status: 202, body: { status: 'stopping' } });
    expect(await api.post(`/api/runtime/codex/workers/${id}/stop`, {})).toMatchObject({ status: 202, body: { status: 'stopping' } });
    expect(await event(id, 'worker.stopped', { reason: 'clean exit' })).toMatchObject({ status: 202, body: { status: 'stopped' } });
    expect((await snapshot(id)).body).toMatchObject({ status: 'stopped', stop_reason: 'clean exit' });

    for (const call of [
      () => event(id, 'worker.output'),
      () => api.post(`/api/runtime/codex/workers/${id}/heartbeat`, {}),
      () => api.post(`/api/runtime/codex/workers/${id}/stop`, {}),
    ]) {
      expect(await call()).toMatchObject({ status: 409, body: { code: 'worker_stopped' } });
    }
  });

  it('a worker that never reported running stops at once', async () => {
    const id = (await start()).body.worker_id;
    expect(await api.post(`/api/runtime/codex/workers/${id}/stop`, {})).toMatchObject({ status: 202, body: { status: 'stopped' } });
  });

  it('worker.failed fails the worker with its error', async () => {
    const id = (await start()).body.worker_id;
    await event(id, 'worker.failed', { error_code: 'oom', error_message: 'out of memory' });
    expect((await snapshot(id)).body).toMatchObject({ status: 'failed', error_code: 'oom', error_message: 'out of memory' });
    expect(await api.post(`/api/runtime/codex/workers/${id}/heartbeat`, {})).toMatchObject({ status: 409, body: { code: 'worker_stopped' } });
  });

  it('event types must be worker.*: 422 invalid_event_type, nothing recorded', async () => {
    const id = (await start()).body.worker_id;
    expect(await event(id, 'run.started')).toMatchObject({ status: 422, body: { code: 'invalid_event_type' } });
    expect((await snapshot(id)).body).toMatchObject({ status: 'starting', event_count: 0, revision: 0 });
  });

  it('start with the same Idempotency-Key twice: one worker, one event, the same response', async () => {
    const key = `start-${Math.random()}`;
    const first = await start({}, { 'idempotency-key': key });
    const second = await start({}, { 'idempotency-key': key });
    expect(second.body).toEqual(first.body);
    expect((await snapshot(first.body.worker_id)).body.revision).toBe(0);
    expect(await start({ adapter: 'other' }, { 'idempotency-key': key })).toMatchObject({ status: 409, body: { code: 'idempotency_mismatch' } });
  });

  it('worker events with the same Idempotency-Key are recorded once', async () => {
    const id = (await start()).body.worker_id;
    const key = `event-${Math.random()}`;
    const body = { event: { event_type: 'worker.output', payload: { n: 1 } } };
    const first = await api.post(`/api/runtime/codex/workers/${id}/events`, body, { 'idempotency-key': key });
    const second = await api.post(`/api/runtime/codex/workers/${id}/events`, body, { 'idempotency-key': key });
    expect(second.body).toEqual(first.body);
    expect((await snapshot(id)).body).toMatchObject({ event_count: 1, revision: 1 });
  });

  it('a client-chosen worker_id is used; starting it again is 409 worker_exists', async () => {
    const id = `my-worker-${Math.random().toString(36).slice(2)}`;
    expect(await start({ worker_id: id })).toMatchObject({ status: 201, body: { worker_id: id } });
    expect(await start({ worker_id: id })).toMatchObject({ status: 409, body: { code: 'worker_exists' } });
  });

  it('worker ids are per org: another org starts the same id as its own worker, and neither sees the other', async () => {
    const id = `shared-${Math.random().toString(36).slice(2)}`;
    const other = await RuntimeApi.as(system);
    expect(await start({ worker_id: id })).toMatchObject({ status: 201, body: { worker_id: id } });
    const theirs = await other.post('/api/runtime/codex/workers', { worker_id: id, workspace_ref: 'theirs', adapter: 'codex' });
    expect(theirs).toMatchObject({ status: 201, body: { worker_id: id } });
    expect(await other.post(`/api/runtime/codex/workers/${id}/stop`, {})).toMatchObject({ status: 202, body: { status: 'stopped' } });
    // Stopping theirs left ours running; each snapshot shows only its own org's worker.
    expect((await snapshot(id)).body).toMatchObject({ worker_id: id, org_id: api.identity.orgId, status: 'starting', workspace_ref: 'repo@main' });
    expect((await other.get(`/api/runtime/codex/workers/${id}/snapshot`)).body).toMatchObject({ org_id: other.identity.orgId, status: 'stopped' });
  });

  it('a worker stored before ids were per org (stream codexWorker-<id>) is still its org\'s worker, and only its org\'s', async () => {
    const db = await connectTestDatabase({ max: 1 });
    try {
      const id = `legacy-${Math.random().toString(36).slice(2)}`;
      const data = { worker_id: id, org_id: api.identity.orgId, actor_user_id: api.identity.userId, occurred_at: new Date().toISOString(), workspace_ref: 'old', adapter: 'codex' };
      await new PostgresEventStore(db).append(`codexWorker-${id}`, [{ id: randomUUID(), type: 'CodexWorkerStarted', data: encodeEventData('CodexWorkerStarted', data), metadata: { correlation_id: 'legacy', causation_id: 'legacy', actor: 'test', schema_version: 1 } }], {
        expectedRevision: 'no_stream',
      });
      expect((await snapshot(id)).body).toMatchObject({ worker_id: id, workspace_ref: 'old', status: 'starting' });
      expect(await event(id, 'worker.output')).toMatchObject({ status: 202, body: { status: 'running', revision: 1 } });
      expect(await start({ worker_id: id })).toMatchObject({ status: 409, body: { code: 'worker_exists' } });
      const other = await RuntimeApi.as(system);
      expect(await other.get(`/api/runtime/codex/workers/${id}/snapshot`)).toMatchObject({ status: 404 });
      expect(await other.post('/api/runtime/codex/workers', { worker_id: id, workspace_ref: 'new', adapter: 'codex' })).toMatchObject({ status: 201 });
    } finally {
      await db.close();
    }
  });

  it('an unknown worker is 404 worker_not_found', async () => {
    expect(await event('wkr_nope', 'worker.output')).toMatchObject({ status: 404, body: { code: 'worker_not_found' } });
    expect(await snapshot('wkr_nope')).toMatchObject({ status: 404, body: { code: 'worker_not_found' } });
  });
});
