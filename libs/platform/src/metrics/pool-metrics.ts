import { Gauge, Registry } from 'prom-client';
import type { Pool } from 'pg';

/** Which pool of an app: `main` (requests), `projectors` (runtime's in-process projectors), `worker`. */
export type PoolName = 'main' | 'projectors' | 'worker';

interface PoolGauges {
  pools: Map<PoolName, Pool>;
}

const byRegistry = new WeakMap<Registry, PoolGauges>();

/**
 * Exposes a pg pool as khala_db_pool_{clients,idle_clients,waiting_requests,max_clients}{pool}.
 * Read at scrape time from the pool's own counters, so a query pays nothing for it. A pool
 * exhausted (waiting > 0 while clients = max) is what turns into 503s a few seconds later.
 */
export function observePool(registry: Registry, name: PoolName, pool: Pool): void {
  let gauges = byRegistry.get(registry);
  if (!gauges) {
    const pools = new Map<PoolName, Pool>();
    gauges = { pools };
    byRegistry.set(registry, gauges);
    const gauge = (metric: string, help: string, read: (pool: Pool) => number) =>
      new Gauge({
        name: metric,
        help,
        labelNames: ['pool'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [label, observed] of pools) this.set({ pool: label }, read(observed));
        },
      });
    gauge('khala_db_pool_clients', 'Connections the pool holds (in use + idle)', (observed) => observed.totalCount);
    gauge('khala_db_pool_idle_clients', 'Connections idle in the pool', (observed) => observed.idleCount);
    gauge('khala_db_pool_waiting_requests', 'Queries waiting for a connection (the pool is at its max)', (observed) => observed.waitingCount);
    gauge('khala_db_pool_max_clients', 'The pool size limit (DATABASE_POOL_MAX and the like)', (observed) => observed.options.max ?? 10);
  }
  gauges.pools.set(name, pool);
}
