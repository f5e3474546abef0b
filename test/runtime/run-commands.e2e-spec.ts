import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { frame, RuntimeApi } from './support/runtime-api';

/** Run commands over real HTTP against the real event store (projectors off: reads come from streams). */
describe('runtime run commands over HTTP', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system.stop());

  const startedRun = async () => {
    const runId = await api.createRun();
    expect((await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('start', 'run.started')] })).status).toBe(202);
    return runId;
  };

  describe('Idempotency-Key', () => {
    it('create: the same key twice returns the same response and appends one RunCreated', async () => {
      const key = `create-${Date.now()}-${Math.random()}`;
      const body = { thread_id: 'th-1', metadata: { n: 1 } };
      const first = await api.post('/api/runtime/runs', body, { 'idempotency-key': key });
      const second = await api.post('/api/runtime/runs', body, { 'idempotency-key': key });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      const events = await api.runEvents(first.body.run_id as string);
      expect(events.map((e) => e.type)).toEqual(['RunCreated']);
      expect(events[0].data).toMatchObject({ thread_id: 'th-1', metadata: { n: 1 }, actor_user_id: api.identity.userId, org_id: api.identity.orgId });
    });

    it('create: the same key with a different body is 409 idempotency_mismatch and creates nothing', async () => {
      const key = `mismatch-${Math.random()}`;
      const first = await api.post('/api/runtime/runs', { thread_id: 'a' }, { 'idempotency-key': key });
      const second = await api.post('/api/runtime/runs', { thread_id: 'b' }, { 'idempotency-key': key });
      expect(second.status).toBe(409);
      expect(second.body).toMatchObject({ code: 'idempotency_mismatch' });
      expect(await api.runEvents(first.body.run_id as string)).toHaveLength(1);
    });

    it('keys are per org: another org reusing a key gets its own run', async () => {
      const key = `shared-${Math.random()}`;
      const other = await RuntimeApi.as(system);
      const mine = await api.post('/api/runtime/runs', {}, { 'idempotency-key': key });
      const theirs = await other.post('/api/runtime/runs', {}, { 'idempotency-key': key });
      expect(theirs.status).toBe(201);
      expect(theirs.body.run_id).not.toBe(mine.body.run_id);
    });

    it('frames: the same key twice → one set of events and the first response', async () => {
      const runId = await startedRun();
      const key = `frames-${Math.random()}`;
      const body = { frames: [frame('a'), frame('b')] };
      const first = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
      const second = await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key });
      expect(first).toMatchObject({ status: 202, body: { run_id: runId, accepted: 2, revision: 3 } });
      expect(second.status).toBe(202);
      expect(second.body).toEqual(first.body);
      expect((await api.runEvents(runId)).map((e) => e.data.frame_id ?? e.type)).toEqual(['RunCreated', 'start', 'a', 'b']);
    });

    it('frames: the same key on another run is a different request (409 idempotency_mismatch)', async () => {
      const [runA, runB] = [await startedRun(), await startedRun()];
      const key = `frames-other-run-${Math.random()}`;
      expect((await api.post(`/api/runtime/runs/${runA}/frames`, { frames: [frame('x')] }, { 'idempotency-key': key })).status).toBe(202);
      const second = await api.post(`/api/runtime/runs/${runB}/frames`, { frames: [frame('x')] }, { 'idempotency-key': key });
      expect(second).toMatchObject({ status: 409, body: { code: 'idempotency_mismatch' } });
      expect(await api.runEvents(runB)).toHaveLength(2);
    });

    it('a failed command releases its key: the same request can be retried once the rule allows it', async () => {
      const runId = await api.createRun();
      const key = `retry-after-failure-${Math.random()}`;
      const body = { frames: [frame('d1')] };
      expect((await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key })).status).toBe(422);
      await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('s', 'run.started')] });
      expect((await api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key })).status).toBe(202);
    });

    it('an unusable key is 400 invalid_idempotency_key', async () => {
      const response = await api.post('/api/runtime/runs', {}, { 'idempotency-key': 'x'.repeat(256) });
      expect(response).toMatchObject({ status: 400, body: { code: 'invalid_idempotency_key' } });
    });
  });

  describe('frames', () => {
    it('a frame_id already stored is ignored, even from another request without a key', async () => {
      const runId = await startedRun();
      expect((await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('a'), frame('b')] })).body).toMatchObject({ accepted: 2 });
      const again = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('b'), frame('c')] });
      expect(again).toMatchObject({ status: 202, body: { accepted: 1, revision: 4 } });
      expect((await api.runEvents(runId)).map((e) => e.data.frame_id ?? e.type)).toEqual(['RunCreated', 'start', 'a', 'b', 'c']);
    });

    it('stores each frame as its proto event with the payload verbatim and an id derived from (run_id, frame_id)', async () => {
      const runId = await startedRun();
      const payload = { text: 'héllo', nested: { list: [1, 'two', null, { x: true }] } };
      await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('t1', 'run.text_delta', payload), frame('c1', 'run.tool_call', { name: 'ls' })] });
      const events = await api.runEvents(runId);
      expect(events.slice(2).map((e) => [e.type, e.data])).toEqual([
        ['RunTextDelta', { run_id: runId, org_id: api.identity.orgId, actor_user_id: api.identity.userId, occurred_at: expect.any(String), frame_id: 't1', payload }],
        ['RunToolCall', { run_id: runId, org_id: api.identity.orgId, actor_user_id: api.identity.userId, occurred_at: expect.any(String), frame_id: 'c1', payload: { name: 'ls' } }],
      ]);
      const other = await startedRun();
      await api.post(`/api/runtime/runs/${other}/frames`, { frames: [frame('t1', 'run.text_delta', payload)] });
      expect((await api.runEvents(other))[2].event_id).not.toBe(events[2].event_id);
    });

    it('after run.finished, new frames are 409 run_terminal and nothing is appended', async () => {
      const runId = await startedRun();
      await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('end', 'run.finished')] });
      const late = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('late')] });
      expect(late).toMatchObject({ status: 409, body: { code: 'run_terminal', details: { status: 'succeeded' } } });
      expect(await api.runEvents(runId)).toHaveLength(3);
      // A retry of frames already stored is still a success.
      expect(await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('end', 'run.finished')] })).toMatchObject({
        status: 202,
        body: { accepted: 0 },
      });
    });

    it('a batch that is invalid anywhere appends nothing', async () => {
      const runId = await startedRun();
      const response = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('ok'), frame('end', 'run.finished'), frame('after')] });
      expect(response).toMatchObject({ status: 409, body: { code: 'run_terminal', details: { frame_index: 2 } } });
      expect(await api.runEvents(runId)).toHaveLength(2);
    });

    it('content before run.started is 422 invalid_frame_sequence', async () => {
      const runId = await api.createRun();
      const response = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('early')] });
      expect(response).toMatchObject({ status: 422, body: { code: 'invalid_frame_sequence' } });
    });

    it('a run that does not exist is 404 run_not_found', async () => {
      const response = await api.post('/api/runtime/runs/run_nope/frames', { frames: [frame('a')] });
      expect(response).toMatchObject({ status: 404, body: { code: 'run_not_found' } });
    });
  });

  describe('cancel', () => {
    it('a created run is canceled at once; a second cancel is a no-op', async () => {
      const runId = await api.createRun();
      expect(await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'user' })).toMatchObject({ status: 202, body: { status: 'canceled' } });
      expect(await api.post(`/api/runtime/runs/${runId}/cancel`, {})).toMatchObject({ status: 202, body: { status: 'canceled' } });
      expect((await api.runEvents(runId)).map((e) => e.type)).toEqual(['RunCreated', 'RunCancelRequested', 'RunCanceled']);
      expect(await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('s', 'run.started')] })).toMatchObject({
        status: 409,
        body: { code: 'run_terminal' },
      });
    });

    it('a running run is canceling until the agent ends it; then it is canceled', async () => {
      const runId = await startedRun();
      expect(await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'stop' })).toMatchObject({ status: 202, body: { status: 'canceling' } });
      expect(await api.post(`/api/runtime/runs/${runId}/cancel`)).toMatchObject({ status: 202, body: { status: 'canceling' } });
      await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('d'), frame('end', 'run.finished')] });
      const events = await api.runEvents(runId);
      expect(events.map((e) => e.type)).toEqual(['RunCreated', 'RunStarted', 'RunCancelRequested', 'RunTextDelta', 'RunFinished', 'RunCanceled']);
      expect(events[5].data.reason).toBe('stop');
    });

    it('cancel of a finished run is 409 run_terminal', async () => {
      const runId = await startedRun();
      await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('end', 'run.failed', { error: 'x' })] });
      expect(await api.post(`/api/runtime/runs/${runId}/cancel`, {})).toMatchObject({ status: 409, body: { code: 'run_terminal' } });
    });
  });

  it('the request correlation id travels into the metadata of every event it appends', async () => {
    const correlationId = `corr-${Math.random().toString(36).slice(2)}`;
    const created = await api.post('/api/runtime/runs', {}, { 'x-correlation-id': correlationId });
    expect(created.headers.get('x-correlation-id')).toBe(correlationId);
    const runId = created.body.run_id as string;
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('s', 'run.started')] }, { 'x-correlation-id': `${correlationId}-2` });
    const events = await api.runEvents(runId);
    expect(events.map((e) => e.metadata)).toEqual([
      expect.objectContaining({ correlation_id: correlationId, actor: api.identity.userId, schema_version: 1 }),
      expect.objectContaining({ correlation_id: `${correlationId}-2` }),
    ]);
  });

  it('run events page by after_seq', async () => {
    const runId = await startedRun();
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('a'), frame('b'), frame('c')] });
    const page = await api.get<{ events: { seq: number }[]; next_after_seq: number }>(`/api/runtime/runs/${runId}/events?after_seq=2&limit=2`);
    expect(page.status).toBe(200);
    expect(page.body.events.map((e) => e.seq)).toEqual([3, 4]);
    expect(page.body.next_after_seq).toBe(4);
  });

  it('refuses requests without a valid access token', async () => {
    const response = await fetch(`${system.urls.runtime}/api/runtime/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(401);
  });
});
