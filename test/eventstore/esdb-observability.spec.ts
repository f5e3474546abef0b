import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { EsdbEventStore, esdbReadinessCheck, EventStoreModule, registerEsdbMetrics } from '@khala/eventstore';
import { METRICS_REGISTRY, ReadinessRegistry } from '@khala/platform';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';

/** Readiness and /metrics for the EventStoreDB adapter (driven through the FAKE emulator, test support only). */
describe('EventStoreDB adapter readiness and metrics (FAKE emulator)', () => {
  let emulator: EsdbEmulator;
  let store: EsdbEventStore;

  beforeEach(async () => {
    emulator = await startEsdbEmulator();
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
  });
  afterEach(async () => {
    await store.close();
    await emulator.stop();
  });

  it('is ready while the server answers, and not ready (with the reason) while it is down', async () => {
    // The probe's bound is a safety net: the first check also opens the gRPC channel, which on a
    // starved machine (stress-ng beside the suite) took longer than 1 s.
    const check = esdbReadinessCheck(store, 10_000);
    await expect(check.check()).resolves.toMatchObject({ up: true, details: { kind: 'eventstoredb' } });
    const { port, log } = emulator;
    await emulator.stop();
    try {
      const down = await check.check();
      expect(down.up).toBe(false);
      expect(String(down.details?.message)).not.toBe('');
    } finally {
      emulator = await startEsdbEmulator({ port, log });
    }
  }, 30_000);

  it('reports reconnects, messages held and lag on /metrics', async () => {
    const registry = new Registry();
    registerEsdbMetrics(store, registry);
    const category = freshCategory();
    await store.append(`${category}-1`, probeEvents(`${category}-1`, 2), { expectedRevision: 'no_stream' });
    const subscriber = new SubscriptionCollector(store.subscribeToAll({ filter: { streamPrefixes: [`${category}-`] } }));
    try {
      await subscriber.untilCaughtUp();
      expect(await registry.metrics()).toMatch(/khala_eventstore_subscription_reconnects_total 0/);
      emulator.faults.dropSubscriptions();
      await subscriber.until(() => subscriber.caughtUpCount() === 2, 'a second caughtUp');
      // Written to another category: the subscription passes nothing on, so it is behind the head.
      await store.append(`${freshCategory()}-1`, probeEvents(`${category}/other`, 3), { expectedRevision: 'no_stream' });
      const text = await registry.metrics();
      expect(text).toMatch(/khala_eventstore_subscription_reconnects_total 1/);
      expect(text).toMatch(/khala_eventstore_subscription_buffered_messages \d+/);
      const lag = Number(/khala_eventstore_subscription_lag_positions (\d+)/.exec(text)?.[1]);
      expect(lag).toBeGreaterThan(0);
    } finally {
      await subscriber.close();
    }
  });

  it('EventStoreModule registers both when the app has a readiness registry and a metrics registry', async () => {
    const readiness = new ReadinessRegistry();
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        {
          global: true,
          module: class GlobalPlatformStandIn {},
          providers: [
            { provide: 'DB', useValue: {} },
            { provide: ReadinessRegistry, useValue: readiness },
            { provide: METRICS_REGISTRY, useValue: registry },
          ],
          exports: ['DB', ReadinessRegistry, METRICS_REGISTRY],
        },
        EventStoreModule.forRoot({ database: 'DB', eventStoreUrl: emulator.connectionString }),
      ],
    }).compile();
    await moduleRef.init();
    try {
      expect(readiness.all().map((check) => check.name)).toEqual(['event_store']);
      await expect(readiness.all()[0].check()).resolves.toMatchObject({ up: true });
      expect(await registry.metrics()).toMatch(/khala_eventstore_subscription_lag_positions/);
    } finally {
      await moduleRef.close();
    }
  });
});
