import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { frame, RuntimeApi } from './support/runtime-api';

/** Read routes served from the projected read models (projectors on). */
describe('runtime read routes over the read models', () => {
  let system: RunningSystem;
  let api: RuntimeApi;
  beforeAll(async () => {
    system = await startTestSystem();
    api = await RuntimeApi.as(system);
  });
  afterAll(() => system.stop());

  /** Polls until the projection caught up (no timing assertion: the test only waits). */
  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('GET run shows the status the frames and cancel produced', async () => {
    const runId = await api.createRun({ thread_id: 'th' });
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('s', 'run.started'), frame('d1'), frame('c1', 'run.tool_call')] });
    const running = await eventually(() => api.get(`/api/runtime/runs/${runId}`), (r) => r.status === 200 && r.body.frame_count === 3);
    expect(running.body).toMatchObject({ run_id: runId, status: 'running', thread_id: 'th', frame_count: 3, doc_version: 4 });
    expect(running.body.watermark).toEqual(expect.any(Number));

    await api.post(`/api/runtime/runs/${runId}/cancel`, { reason: 'enough' });
    await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame('f', 'run.failed', { error: 'interrupted' })] });
    const canceled = await eventually(() => api.get(`/api/runtime/runs/${runId}`), (r) => r.body.status === 'canceled');
    expect(canceled.body).toMatchObject({ status: 'canceled', cancel_reason: 'enough', failure: { error: 'interrupted' } });

    const stranger = await RuntimeApi.as(system);
    expect(await stranger.get(`/api/runtime/runs/${runId}`)).toMatchObject({ status: 404, body: { code: 'run_not_found' } });
  });

  it('lists the org’s runs newest first with cursor pagination, and only the org’s', async () => {
    const owner = await RuntimeApi.as(system);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await owner.createRun());
    await RuntimeApi.as(system).then((other) => other.createRun());
    await eventually(() => owner.get<{ runs: unknown[] }>('/api/runtime/runs'), (r) => r.body.runs.length === 5);

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { body: { runs: { run_id: string }[]; next_after: string | null } } = await owner.get(
        `/api/runtime/runs?limit=2${after ? `&after=${after}` : ''}`,
      );
      expect(page.body.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.runs.map((run) => run.run_id));
      after = page.body.next_after;
    } while (after);
    expect(seen).toEqual([...ids].reverse());
  });

  it('lists the org’s workers from the worker summaries, with heartbeat freshness', async () => {
    const owner = await RuntimeApi.as(system);
    const first = (await owner.post<{ worker_id: string }>('/api/runtime/codex/workers', { workspace_ref: 'a', adapter: 'codex' })).body.worker_id;
    const second = (await owner.post<{ worker_id: string }>('/api/runtime/codex/workers', { workspace_ref: 'b', adapter: 'codex' })).body.worker_id;
    await owner.post(`/api/runtime/codex/workers/${second}/heartbeat`, {});
    const list = await eventually(
      () => owner.get<{ workers: Record<string, unknown>[]; next_after: string | null }>('/api/runtime/codex/workers'),
      (r) => r.body.workers.length === 2 && r.body.workers[0].last_heartbeat_at !== null,
    );
    expect(list.body.workers.map((w) => w.worker_id)).toEqual([second, first]);
    expect(list.body.workers[0]).toMatchObject({ heartbeat_freshness: 'fresh', status: 'starting' });
    expect(list.body.workers[1]).toMatchObject({ heartbeat_freshness: 'missing' });
    const page = await owner.get<{ workers: { worker_id: string }[]; next_after: string | null }>('/api/runtime/codex/workers?limit=1');
    expect(page.body).toMatchObject({ workers: [{ worker_id: second }], next_after: second });
    expect((await (await RuntimeApi.as(system)).get<{ workers: unknown[] }>('/api/runtime/codex/workers')).body.workers).toEqual([]);
  });
});
