import { loadEnv } from '@khala/platform';
import { ProjectorWorkerEnv } from '../../apps/runtime/src/projector-worker.env';
import { ProjectorWorker, startProjectorWorker } from '../../apps/runtime/src/projector-worker-process';
import { testDatabaseUrl } from '../support/test-database';

/** The projector worker's only HTTP (docs/operations.md §1): /metrics and the health routes the probes use. */
describe('projector worker HTTP listener', () => {
  let worker: ProjectorWorker;
  beforeAll(async () => {
    worker = await startProjectorWorker(loadEnv(ProjectorWorkerEnv, { DATABASE_URL: testDatabaseUrl(), LOG_LEVEL: 'silent' }), { httpPort: 0, host: '127.0.0.1' });
  });
  afterAll(() => worker?.stop());

  const get = (path: string) => fetch(`${worker.http.url}${path}`);

  it("serves its registry on /metrics under app=\"projector-worker\", with its projections' series", async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const runner of worker.runners) expect(text).toContain(`khala_projection_leader{projection="${runner.projection.name}",app="projector-worker"}`);
    expect(text).toMatch(/^khala_db_pool_clients\{pool="worker",app="projector-worker"\} \d+$/m);
  });

  it('answers /health/live and /health/ready (with each projection), and 404 elsewhere', async () => {
    expect(await (await get('/health/live')).json()).toEqual({ status: 'ok' });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; info: { database: { up: boolean }; projectors: Record<string, { state: string }> } };
    expect(body.status).toBe('ok');
    expect(body.info.database.up).toBe(true);
    expect(Object.keys(body.info.projectors).sort()).toEqual(worker.runners.map((runner) => runner.projection.name).sort());
    expect((await get('/api/runtime/runs')).status).toBe(404);
    expect((await fetch(`${worker.http.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
