import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { TENANT_LAG_TOP_N } from '@khala/projections';
import { appendRun, event, eventually, isolatedCategories, isolatedProjections, runCreated, runnersFor } from './support/projection-fixtures';
import { useStoreOnTestDatabase } from '../support/store-on-test-database';

/**
 * docs/operations.md §3: khala_projection_tenant_lag_* name the tenants a backlog belongs to (at most
 * TENANT_LAG_TOP_N, none once caught up) and khala_projection_stalled turns 1 when a projection halts.
 */
describe('projector metrics', () => {
  const the = useStoreOnTestDatabase({ connections: 6, pollIntervalMs: 50 });

  /** Label set → value of one series of the registry, for one projection. */
  async function valuesOf(registry: Registry, metric: string, projection: string): Promise<Map<string, number>> {
    const { values } = await registry.getSingleMetric(metric)!.get();
    return new Map(values.filter((value) => value.labels.projection === projection).map((value) => [String(value.labels.tenant ?? ''), value.value]));
  }

  it('reports the backlog per tenant, the most behind first and at most TENANT_LAG_TOP_N of them, and drops the series once caught up', async () => {
    const categories = isolatedCategories();
    const orgs = Array.from({ length: TENANT_LAG_TOP_N + 2 }, (_, i) => `org_${categories.tag}_${i}`);
    // org 0: a run of 2 + 6 deltas = 8 events; every other org a run of 3 events (no deltas).
    for (const [i, org] of orgs.entries()) await appendRun(the.store, categories.runStream(`run_${i}_${randomUUID().slice(0, 6)}`), `run_${i}`, org, i === 0 ? 5 : 0);
    const registry = new Registry();
    const [runner] = runnersFor(the.store, the.db, isolatedProjections(categories).slice(0, 1), { metrics: registry });
    const name = runner.projection.name;

    await runner.refreshStats();
    const events = await valuesOf(registry, 'khala_projection_tenant_lag_events', name);
    expect(events.size).toBe(TENANT_LAG_TOP_N);
    expect(events.get(orgs[0])).toBe(8);
    expect([...events.values()].filter((count) => count === 3)).toHaveLength(TENANT_LAG_TOP_N - 1);
    expect((await valuesOf(registry, 'khala_projection_lag_events', name)).get('')).toBe(8 + 3 * (orgs.length - 1));
    const seconds = await valuesOf(registry, 'khala_projection_tenant_lag_seconds', name);
    expect([...seconds.keys()].sort()).toEqual([...events.keys()].sort());
    expect((await valuesOf(registry, 'khala_projection_stalled', name)).get('')).toBe(0);

    runner.start();
    try {
      await eventually(
        async () => {
          await runner.refreshStats();
          return runner.status().lagEvents;
        },
        (lag) => lag === 0,
        'the projection to catch up',
      );
    } finally {
      await runner.stop();
    }
    expect((await valuesOf(registry, 'khala_projection_tenant_lag_events', name)).size).toBe(0);
    expect((await valuesOf(registry, 'khala_projection_tenant_lag_seconds', name)).size).toBe(0);
  });

  it('sets khala_projection_stalled to 1 while a projection is halted on a poison event', async () => {
    const categories = isolatedCategories();
    const org = `org_${categories.tag}`;
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const poison = event('RunTeleported', { run_id: runId, org_id: org, actor_user_id: 'user_test', occurred_at: new Date().toISOString() });
    await the.store.append(categories.runStream(runId), [runCreated(runId, org), poison], { expectedRevision: 'no_stream' });
    const registry = new Registry();
    const [runner] = runnersFor(the.store, the.db, isolatedProjections(categories, { failurePolicy: 'stop' }).slice(0, 1), { metrics: registry, retryBaseMs: 1 });
    runner.start();
    try {
      await eventually(async () => runner.state, (state) => state === 'failed', 'the runner to halt on the poison');
      await runner.refreshStats();
      expect((await valuesOf(registry, 'khala_projection_stalled', runner.projection.name)).get('')).toBe(1);
      expect((await valuesOf(registry, 'khala_projection_tenant_lag_events', runner.projection.name)).get(org)).toBe(1);
    } finally {
      await runner.stop();
    }
  });
});
