import { Registry } from 'prom-client';
import { Database, observePool } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';

/** docs/operations.md §4.2 "Pool exhaustion": the pool gauges show a full pool and the queries queued behind it. */
describe('database pool gauges', () => {
  let db: Database;
  beforeAll(async () => {
    // One connection: PGlite's socket server serves one client at a time, and one is enough to fill the pool.
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(() => db.close());

  async function gauges(registry: Registry): Promise<Record<string, number>> {
    const read = async (metric: string) => (await registry.getSingleMetric(metric)!.get()).values.find((value) => value.labels.pool === 'main')?.value;
    return {
      clients: (await read('khala_db_pool_clients'))!,
      idle: (await read('khala_db_pool_idle_clients'))!,
      waiting: (await read('khala_db_pool_waiting_requests'))!,
      max: (await read('khala_db_pool_max_clients'))!,
    };
  }

  it('reads clients, idle, waiting and max from the pool at scrape time', async () => {
    const registry = new Registry();
    observePool(registry, 'main', db.pool);
    const held = await db.pool.connect();
    const queued = [db.query('select 1'), db.query('select 2')];
    try {
      expect(await gauges(registry)).toEqual({ clients: 1, idle: 0, waiting: 2, max: 1 });
    } finally {
      held.release();
    }
    await Promise.all(queued);
    expect(await gauges(registry)).toEqual({ clients: 1, idle: 1, waiting: 0, max: 1 });
  });
});
