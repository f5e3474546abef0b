import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { frame, RuntimeApi } from './support/runtime-api';

interface FieldError {
  field: string;
  errors: string[];
}

/** Every bad field gets 400 validation_failed naming it, and changes nothing; other orgs see 404. */
describe('runtime input validation and org isolation', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  let runId: string;
  let workerId: string;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
    runId = await api.createRun();
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('start', 'run.started')] });
    const worker = await api.post<{ worker_id: string }>('/api/runtime/codex/workers', { workspace_ref: 'ws', adapter: 'codex' });
    workerId = worker.body.worker_id;
  });
  afterAll(() => system.stop());

  const big = 'x'.repeat(256 * 1024);
  const frames = (n: number) => Array.from({ length: n }, (_, i) => frame(`f${i}`));

  const cases: [string, () => string, unknown, string][] = [
    // [name, path, body, field named in details]
    ['create: thread_id not a string', () => '/api/runtime/runs', { thread_id: 5 }, 'thread_id'],
    ['create: thread_id too long', () => '/api/runtime/runs', { thread_id: 't'.repeat(129) }, 'thread_id'],
    ['create: thread_id with spaces', () => '/api/runtime/runs', { thread_id: 'a b' }, 'thread_id'],
    ['create: metadata not an object', () => '/api/runtime/runs', { metadata: 'x' }, 'metadata'],
    ['create: metadata over 16 KiB', () => '/api/runtime/runs', { metadata: { big: 'y'.repeat(17 * 1024) } }, 'metadata'],
    ['create: unknown field', () => '/api/runtime/runs', { org_id: 'someone-else' }, 'org_id'],
    ['frames: missing', () => `/api/runtime/runs/${runId}/frames`, {}, 'frames'],
    ['frames: not an array', () => `/api/runtime/runs/${runId}/frames`, { frames: { frame_id: 'a' } }, 'frames'],
    ['frames: empty', () => `/api/runtime/runs/${runId}/frames`, { frames: [] }, 'frames'],
    ['frames: more than 500', () => `/api/runtime/runs/${runId}/frames`, { frames: frames(501) }, 'frames'],
    ['frames: a frame_id repeated', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('a'), frame('a')] }, 'frames'],
    ['frame: not an object', () => `/api/runtime/runs/${runId}/frames`, { frames: ['x'] }, 'frames.0'],
    ['frame: frame_id missing', () => `/api/runtime/runs/${runId}/frames`, { frames: [{ type: 'run.text_delta', payload: {} }] }, 'frames.0.frame_id'],
    ['frame: frame_id too long', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('f'.repeat(129))] }, 'frames.0.frame_id'],
    ['frame: frame_id with a slash', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('a/b')] }, 'frames.0.frame_id'],
    ['frame: unknown type', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('a', 'run.exploded')] }, 'frames.0.type'],
    ['frame: type not a string', () => `/api/runtime/runs/${runId}/frames`, { frames: [{ frame_id: 'a', type: 1, payload: {} }] }, 'frames.0.type'],
    ['frame: payload missing', () => `/api/runtime/runs/${runId}/frames`, { frames: [{ frame_id: 'a', type: 'run.text_delta' }] }, 'frames.0.payload'],
    ['frame: payload an array', () => `/api/runtime/runs/${runId}/frames`, { frames: [{ ...frame('a'), payload: [1] }] }, 'frames.0.payload'],
    ['frame: payload over 256 KiB', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('a', 'run.text_delta', { text: big })] }, 'frames.0.payload'],
    ['frame: unknown field', () => `/api/runtime/runs/${runId}/frames`, { frames: [{ ...frame('a'), seq: 1 }] }, 'frames.0.seq'],
    ['frames: unknown top-level field', () => `/api/runtime/runs/${runId}/frames`, { frames: [frame('a')], run_id: 'x' }, 'run_id'],
    ['cancel: reason not a string', () => `/api/runtime/runs/${runId}/cancel`, { reason: 1 }, 'reason'],
    ['cancel: reason too long', () => `/api/runtime/runs/${runId}/cancel`, { reason: 'r'.repeat(1025) }, 'reason'],
    ['cancel: unknown field', () => `/api/runtime/runs/${runId}/cancel`, { force: true }, 'force'],
    ['worker start: workspace_ref missing', () => '/api/runtime/codex/workers', { adapter: 'codex' }, 'workspace_ref'],
    ['worker start: adapter missing', () => '/api/runtime/codex/workers', { workspace_ref: 'ws' }, 'adapter'],
    ['worker start: adapter with spaces', () => '/api/runtime/codex/workers', { workspace_ref: 'ws', adapter: 'a b' }, 'adapter'],
    ['worker start: worker_id too long', () => '/api/runtime/codex/workers', { workspace_ref: 'ws', adapter: 'c', worker_id: 'w'.repeat(129) }, 'worker_id'],
    ['worker start: unknown field', () => '/api/runtime/codex/workers', { workspace_ref: 'ws', adapter: 'c', status: 'running' }, 'status'],
    ['worker event: event missing', () => `/api/runtime/codex/workers/${workerId}/events`, {}, 'event'],
    ['worker event: event_type missing', () => `/api/runtime/codex/workers/${workerId}/events`, { event: { payload: {} } }, 'event.event_type'],
    ['worker event: event_type too long', () => `/api/runtime/codex/workers/${workerId}/events`, { event: { event_type: `worker.${'e'.repeat(128)}`, payload: {} } }, 'event.event_type'],
    ['worker event: payload not an object', () => `/api/runtime/codex/workers/${workerId}/events`, { event: { event_type: 'worker.x', payload: 'p' } }, 'event.payload'],
    ['worker event: payload over 256 KiB', () => `/api/runtime/codex/workers/${workerId}/events`, { event: { event_type: 'worker.x', payload: { big } } }, 'event.payload'],
    ['worker event: unknown field', () => `/api/runtime/codex/workers/${workerId}/events`, { event: { event_type: 'worker.x', payload: {}, at: 1 } }, 'event.at'],
    ['heartbeat: any field', () => `/api/runtime/codex/workers/${workerId}/heartbeat`, { alive: true }, 'alive'],
    ['stop: reason not a string', () => `/api/runtime/codex/workers/${workerId}/stop`, { reason: false }, 'reason'],
  ];

  it.each(cases)('%s → 400 validation_failed naming the field, nothing appended', async (_name, path, body, field) => {
    const runBefore = (await api.runEvents(runId)).length;
    const workerBefore = (await api.get<{ revision: number }>(`/api/runtime/codex/workers/${workerId}/snapshot`)).body.revision;
    const response = await api.post<{ code: string; details: FieldError[]; correlation_id: string }>(path(), body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.correlation_id).toEqual(expect.any(String));
    expect(response.body.details.map((detail) => detail.field)).toContain(field);
    expect((await api.runEvents(runId)).length).toBe(runBefore);
    expect((await api.get<{ revision: number }>(`/api/runtime/codex/workers/${workerId}/snapshot`)).body.revision).toBe(workerBefore);
  });

  it.each([
    ['runs list: limit 0', '/api/runtime/runs?limit=0', 'limit'],
    ['runs list: limit not a number', '/api/runtime/runs?limit=ten', 'limit'],
    ['runs list: limit over 200', '/api/runtime/runs?limit=201', 'limit'],
    ['runs list: unknown parameter', '/api/runtime/runs?org_id=x', 'org_id'],
    ['run events: after_seq negative', () => `/api/runtime/runs/${runId}/events?after_seq=-1`, 'after_seq'],
    ['run events: limit over 1000', () => `/api/runtime/runs/${runId}/events?limit=1001`, 'limit'],
    ['workers list: after malformed', '/api/runtime/codex/workers?after=a%20b', 'after'],
  ])('%s → 400 validation_failed', async (_name, path, field) => {
    const response = await api.get<{ code: string; details: FieldError[] }>(typeof path === 'string' ? path : path());
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.details.map((detail) => detail.field)).toContain(field);
  });

  it('a body that is not JSON is refused before validation', async () => {
    expect((await api.post('/api/runtime/runs', '{"thread_id":')).body).toMatchObject({ code: 'malformed_json' });
    const text = await api.request('POST', '/api/runtime/runs', 'x', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('a heartbeat with no body at all is accepted', async () => {
    const response = await api.request('POST', `/api/runtime/codex/workers/${workerId}/heartbeat`);
    expect(response.status).toBe(202);
  });

  describe('another org', () => {
    let stranger: RuntimeApi;
    beforeAll(async () => {
      stranger = await RuntimeApi.as(system);
    });

    it.each([
      ['append frames', () => stranger.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('intruder')] }), 'run_not_found'],
      ['cancel', () => stranger.post(`/api/runtime/runs/${runId}/cancel`, {}), 'run_not_found'],
      ['read the run', () => stranger.get(`/api/runtime/runs/${runId}`), 'run_not_found'],
      ['read the run events', () => stranger.get(`/api/runtime/runs/${runId}/events`), 'run_not_found'],
      ['record a worker event', () => stranger.post(`/api/runtime/codex/workers/${workerId}/events`, { event: { event_type: 'worker.x', payload: {} } }), 'worker_not_found'],
      ['heartbeat', () => stranger.post(`/api/runtime/codex/workers/${workerId}/heartbeat`, {}), 'worker_not_found'],
      ['stop the worker', () => stranger.post(`/api/runtime/codex/workers/${workerId}/stop`, {}), 'worker_not_found'],
      ['read the worker snapshot', () => stranger.get(`/api/runtime/codex/workers/${workerId}/snapshot`), 'worker_not_found'],
    ])('cannot %s: 404, and nothing changes', async (_name, call, code) => {
      const runBefore = await api.runEvents(runId);
      const workerBefore = (await api.get(`/api/runtime/codex/workers/${workerId}/snapshot`)).body;
      const response = await call();
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code });
      expect(await api.runEvents(runId)).toEqual(runBefore);
      expect((await api.get(`/api/runtime/codex/workers/${workerId}/snapshot`)).body.revision).toEqual(workerBefore.revision);
    });

    it('does not see the run or the worker in its lists, and cannot page from them', async () => {
      expect((await stranger.get<{ workers: unknown[] }>('/api/runtime/codex/workers')).body.workers).toEqual([]);
      expect((await stranger.get<{ runs: unknown[] }>('/api/runtime/runs')).body.runs).toEqual([]);
      expect(await stranger.get(`/api/runtime/codex/workers?after=${workerId}`)).toMatchObject({ status: 400, body: { code: 'invalid_cursor' } });
      expect(await stranger.get(`/api/runtime/runs?after=${runId}`)).toMatchObject({ status: 400, body: { code: 'invalid_cursor' } });
    });
  });
});
