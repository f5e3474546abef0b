import { RunningSystem } from '../../apps/embedded/src/embedded';
import { Database } from '@khala/platform';
import { setPaused } from '@khala/projections';
import { startTestSystem } from '../support/system';
import { connectTestDatabase, usePrivateDatabase } from '../support/test-database';
import { ApiResponse, frame, RuntimeApi } from './support/runtime-api';

/**
 * Read-your-writes: a command's response carries the stream `revision` it produced, and
 * `GET /api/runtime/runs/:id?min_revision=N` answers once the read model has folded it (bounded,
 * then 503 read_model_behind). The run_summaries projection is paused to hold the read model
 * behind deterministically, so this file has a database of its own (pausing is database-wide).
 */
describe('read-your-writes on runs (GET ?min_revision=)', () => {
  let database: { release(): Promise<void> };
  let system: RunningSystem;
  let db: Database;
  let api: RuntimeApi;

  beforeAll(async () => {
    database = await usePrivateDatabase();
    // A short bound, so the "still behind" answer comes quickly; waits that must succeed retry.
    system = await startTestSystem({ RUNTIME_READ_YOUR_WRITES_TIMEOUT_MS: '1000' });
    db = await connectTestDatabase({ max: 2 });
    api = await RuntimeApi.as(system);
  });
  afterAll(async () => {
    await db?.close();
    await system?.stop();
    await database?.release();
  });

  /** Like `oa projections pause`: returns once no batch that saw "not paused" can still commit. */
  async function pauseRunSummaries(): Promise<void> {
    await setPaused(db, 'run_summaries', true, 'read-your-writes test');
    await db.transaction((tx) => tx.query(`SELECT 1 FROM runtime.projection_checkpoints WHERE projection = 'run_summaries' FOR UPDATE`));
  }
  const resumeRunSummaries = () => setPaused(db, 'run_summaries', false, null);

  /** What a client does: GET with min_revision, honouring 503 read_model_behind's retry_after_ms. */
  async function readAtRevision(path: string, minRevision: number): Promise<ApiResponse> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const reply = await api.get(`${path}?min_revision=${minRevision}`);
      if (reply.status !== 503 || Date.now() > deadline) return reply;
      expect(reply.body).toMatchObject({ code: 'read_model_behind' });
      await new Promise((resolve) => setTimeout(resolve, (reply.body.details as { retry_after_ms: number }).retry_after_ms));
    }
  }

  it('every run command response carries the revision it produced, also when replayed', async () => {
    const created = await api.post('/api/runtime/runs', {}, { 'idempotency-key': `ryw-${Date.now()}` });
    expect(created).toMatchObject({ status: 201, body: { status: 'created', revision: 0 } });
    const runId = created.body.run_id as string;
    const frames = { frames: [frame('s', 'run.started'), frame('d1')] };
    const appended = await api.post(`/api/runtime/runs/${runId}/frames`, frames, { 'idempotency-key': `frames-${runId}` });
    expect(appended).toMatchObject({ status: 202, body: { accepted: 2, revision: 2 } });
    expect(await api.post(`/api/runtime/runs/${runId}/frames`, frames, { 'idempotency-key': `frames-${runId}` })).toMatchObject({
      status: 202,
      body: appended.body,
    });
    const canceled = await api.post(`/api/runtime/runs/${runId}/cancel`, {}, { 'idempotency-key': `cancel-${runId}` });
    expect(canceled).toMatchObject({ status: 202, body: { status: 'canceling', revision: 3 } });
    expect(await api.post(`/api/runtime/runs/${runId}/cancel`, {}, { 'idempotency-key': `cancel-${runId}` })).toMatchObject({
      status: 202,
      body: canceled.body,
    });
    expect(await readAtRevision(`/api/runtime/runs/${runId}`, 3)).toMatchObject({ status: 200, body: { status: 'canceling', revision: 3 } });
  });

  it('GET right after create: without min_revision 404 while unprojected; with it, waits and answers the run (never 404)', async () => {
    await pauseRunSummaries();
    let created: ApiResponse;
    try {
      created = await api.post('/api/runtime/runs', { thread_id: 'ryw' });
      expect(created).toMatchObject({ status: 201, body: { revision: 0 } });
      const path = `/api/runtime/runs/${created.body.run_id as string}`;
      // The reported lag: the read model does not have the run yet.
      expect(await api.get(path)).toMatchObject({ status: 404, body: { code: 'run_not_found' } });
      // With min_revision: not a 404 but the bounded wait, then the coded retryable error.
      const behind = await api.get(`${path}?min_revision=0`);
      expect(behind).toMatchObject({ status: 503, body: { code: 'read_model_behind', details: { min_revision: 0, revision: null, retry_after_ms: 1000 } } });
      expect(behind.headers.get('retry-after')).toBe('1');
    } finally {
      await resumeRunSummaries();
    }
    const read = await readAtRevision(`/api/runtime/runs/${created.body.run_id as string}`, 0);
    expect(read).toMatchObject({ status: 200, body: { run_id: created.body.run_id, status: 'created', thread_id: 'ryw', revision: 0 } });
  });

  it('cancel → 202 canceled; GET with min_revision answers canceled, never the stale created', async () => {
    const runId = await api.createRun();
    expect(await readAtRevision(`/api/runtime/runs/${runId}`, 0)).toMatchObject({ status: 200, body: { status: 'created' } });
    await pauseRunSummaries();
    let revision: number;
    try {
      const canceled = await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'enough' });
      expect(canceled).toMatchObject({ status: 202, body: { status: 'canceled', revision: 2 } });
      revision = canceled.body.revision as number;
      // The reported lag: a plain GET still says created.
      expect(await api.get(`/api/runtime/runs/${runId}`)).toMatchObject({ status: 200, body: { status: 'created', revision: 0 } });
      expect(await api.get(`/api/runtime/runs/${runId}?min_revision=${revision}`)).toMatchObject({
        status: 503,
        body: { code: 'read_model_behind', details: { min_revision: revision, revision: 0 } },
      });
    } finally {
      await resumeRunSummaries();
    }
    expect(await readAtRevision(`/api/runtime/runs/${runId}`, revision)).toMatchObject({
      status: 200,
      body: { status: 'canceled', cancel_reason: 'enough', revision },
    });
  });

  it('a waiting reader is answered when the projector commits (not only on retry)', async () => {
    const runId = await api.createRun();
    expect(await readAtRevision(`/api/runtime/runs/${runId}`, 0)).toMatchObject({ status: 200 });
    // The bound of this system is 1 s: the read is sent while paused and the projection resumed
    // at once, so it is usually answered inside its own wait; a 503 is retried like any client.
    await pauseRunSummaries();
    const appended = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('s', 'run.started')] });
    const pending = readAtRevision(`/api/runtime/runs/${runId}`, appended.body.revision as number);
    await resumeRunSummaries();
    expect(await pending).toMatchObject({ status: 200, body: { status: 'running', frame_count: 1, revision: 1 } });
  });

  it('another org’s run answers exactly like a nonexistent one, with or without min_revision, at once', async () => {
    const runId = await api.createRun({ metadata: { secret: 'A' } });
    await readAtRevision(`/api/runtime/runs/${runId}`, 0);
    const stranger = await RuntimeApi.as(system);
    const missing = `run_${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    for (const query of ['', '?min_revision=0', '?min_revision=5']) {
      const theirs = await stranger.get(`/api/runtime/runs/${runId}${query}`);
      const none = await stranger.get(`/api/runtime/runs/${missing}${query}`);
      expect(theirs).toMatchObject({ status: 404, body: { code: 'run_not_found' } });
      const masked = (reply: ApiResponse, id: string) => ({ ...reply.body, correlation_id: undefined, message: String(reply.body.message).replace(id, '<id>') });
      expect(masked(theirs, runId)).toEqual(masked(none, missing));
    }
  });

  it('min_revision must be an integer ≥ 0 (400 validation_failed)', async () => {
    const runId = await api.createRun();
    for (const bad of ['-1', '1.5', 'abc', '1e400']) {
      expect(await api.get(`/api/runtime/runs/${runId}?min_revision=${bad}`)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    }
  });
});
