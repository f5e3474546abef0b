import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { describeWithConcurrentPostgres } from '../support/test-database';
import { frame, RuntimeApi } from './support/runtime-api';

/**
 * Racing commands on one run through HTTP: optimistic appends (read the stream, decide, append at
 * the exact revision) in truly concurrent Postgres transactions. Not on PGlite: its socket server
 * interleaves extended-protocol messages of concurrent connections (electric-sql/pglite#1046), so
 * racing connections there get each other's results.
 */
describeWithConcurrentPostgres('concurrent commands on one run', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem({ RUNTIME_PROJECTORS: 'off' });
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system.stop());

  const startedRun = async () => {
    const runId = await api.createRun();
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('start', 'run.started')] });
    return runId;
  };

  const frameIdsInStream = async (runId: string) =>
    (await api.runEvents(runId)).filter((event) => event.type === 'RunTextDelta').map((event) => event.data.frame_id as string);

  it('20 parallel frame appends: each is accepted or cleanly 409; the stream holds exactly the accepted frames, once each', async () => {
    const runId = await startedRun();
    const ids = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const responses = await Promise.all(ids.map((id) => api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame(id)] })));

    const accepted = ids.filter((_, i) => responses[i].status === 202);
    for (const response of responses) {
      if (response.status === 202) expect(response.body).toMatchObject({ accepted: 1 });
      else expect(response).toMatchObject({ status: 409, body: { code: 'concurrency_conflict' } });
    }
    const stored = await frameIdsInStream(runId);
    expect([...stored].sort()).toEqual([...accepted].sort());
    expect(new Set(stored).size).toBe(stored.length);
    // Revisions are dense: every accepted frame got its own revision, none was overwritten.
    const revisions = responses.filter((r) => r.status === 202).map((r) => r.body.revision as number);
    expect(new Set(revisions).size).toBe(accepted.length);

    // The refused ones can simply be retried; afterwards every frame is there exactly once.
    const refused = ids.filter((_, i) => responses[i].status !== 202);
    for (const id of refused) expect((await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame(id)] })).status).toBe(202);
    const final = await frameIdsInStream(runId);
    expect([...final].sort()).toEqual([...ids].sort());
  });

  it('20 parallel requests repeating overlapping frames: every frame is stored exactly once', async () => {
    const runId = await startedRun();
    const shared = ['s1', 's2', 's3'];
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api.post(`/api/runtime/runs/${runId}/frames`, { frames: [...shared, `own${i}`].map((id) => frame(id)) })),
    );
    for (const response of responses) expect([202, 409]).toContain(response.status);
    const stored = await frameIdsInStream(runId);
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored).toEqual(expect.arrayContaining(shared));
    const acceptedOwn = responses.flatMap((r, i) => (r.status === 202 ? [`own${i}`] : []));
    expect(stored.filter((id) => id.startsWith('own')).sort()).toEqual(acceptedOwn.sort());
    const totalAccepted = responses.reduce((sum, r) => sum + (r.status === 202 ? (r.body.accepted as number) : 0), 0);
    expect(totalAccepted).toBe(stored.length);
  });

  it('the same Idempotency-Key sent 10 times at once: one effect, one response for all', async () => {
    const runId = await startedRun();
    const key = `parallel-${Math.random()}`;
    const body = { frames: [frame('k1'), frame('k2')] };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => api.post(`/api/runtime/runs/${runId}/frames`, body, { 'idempotency-key': key })),
    );
    const ok = responses.filter((r) => r.status === 202);
    expect(ok.length).toBe(10);
    for (const response of ok) expect(response.body).toEqual(ok[0].body);
    expect(ok[0].body).toMatchObject({ accepted: 2 });
    expect(await frameIdsInStream(runId)).toEqual(['k1', 'k2']);
  });

  it('parallel cancels and a finishing frame never leave a run half-ended', async () => {
    const runId = await startedRun();
    const responses = await Promise.all([
      ...Array.from({ length: 5 }, () => api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'race' })),
      api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('end', 'run.finished')] }),
    ]);
    for (const response of responses) expect([202, 409]).toContain(response.status);
    const types = (await api.runEvents(runId)).map((event) => event.type);
    expect(types.filter((type) => type === 'RunCancelRequested').length).toBeLessThanOrEqual(1);
    expect(types.filter((type) => type === 'RunCanceled').length).toBeLessThanOrEqual(1);
    expect(types.filter((type) => type === 'RunFinished').length).toBeLessThanOrEqual(1);
  });
});
