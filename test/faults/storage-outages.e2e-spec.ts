import { createEventStore, EventStore } from '@khala/eventstore';
import { createScratchDatabase, Database, ScratchDatabase } from '@khala/platform';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { killAllApps } from '../support/processes/app-process';
import { KhalaCluster, startKhalaCluster } from '../support/processes/khala-cluster';
import { PrivatePostgres, privatePostgresAvailable, startPrivatePostgres } from '../support/processes/private-postgres';
import { describeOrSkip } from '../support/skips';
import { describeWithConcurrentPostgres, NEEDS_CONCURRENT_TRANSACTIONS, skipReasonOnPglite } from '../support/test-database';
import { FaultFigures, reportFigures } from './support/figures';
import { expectNothingLostOrDoubled, runScenario, ScenarioResult, waitUntil } from './support/scenario';

const wsUrl = (url: string) => `${url.replace('http', 'ws')}/sync/socket/websocket`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const figures: FaultFigures[] = [];

function expectClean(result: ScenarioResult): void {
  figures.push(result.figures);
  expectNothingLostOrDoubled(result);
  // Storage going away must surface as retryable answers only: no command refused outright.
  expect(result.figures.rejected).toBe(0);
}

afterAll(() => {
  if (figures.length) reportFigures('storage-outages', figures);
});

/** Both outages run the same load against the cluster's runtime and first gateway. */
function steadyLoadOn(cluster: KhalaCluster) {
  return {
    diagnose: () =>
      `projector: ${cluster.projector.output().slice(-1500)}\ngateway: ${cluster.gateways[0].output().slice(-1500)}\nruntime: ${cluster.runtime.output().slice(-3000)}`,
    keys: cluster.keys,
    runtimeUrl: cluster.runtime.url!,
    socketUrl: wsUrl(cluster.gateways[0].url!),
    gatewayUrl: () => cluster.gateways[0].url!,
    orgs: 3,
    subscribersPerOrg: 5,
    topics: ['runtime.run_summaries', 'runtime.run_events'],
    ratePerSecond: 40,
    lanes: 12,
  };
}

/**
 * Storage going away under load: Postgres restarted (a private PostgreSQL 15 cluster of this file's
 * own; the machine's shared cluster serves other test files), and the event store (EventStoreDB
 * protocol, the FAKE emulator) unreachable for 10 s. Clients retry 503s and connection errors with
 * the same Idempotency-Key; nothing acknowledged may be lost, nothing doubled.
 */
describeOrSkip(
  skipReasonOnPglite(NEEDS_CONCURRENT_TRANSACTIONS) ??
    (privatePostgresAvailable() ? undefined : 'PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin) are not installed'),
)('faults: Postgres restarted under load', () => {
  let pg: PrivatePostgres;
  let cluster: KhalaCluster;
  let db: Database;
  let store: EventStore;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    cluster = await startKhalaCluster({ databaseUrl: pg.url });
    db = await Database.connect({ url: pg.url, max: 4 });
    store = createEventStore({ database: db, pollIntervalMs: 100 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop().catch(() => undefined);
    await killAllApps();
    await db?.close().catch(() => undefined);
    await pg?.destroy();
  }, 60_000);

  it('commands get 503 while it is down and are retried; nothing acknowledged is lost', async () => {
    const result = await runScenario({
      name: 'Postgres restart (3 s down)',
      ...steadyLoadOn(cluster),
      db,
      serverUrl: pg.url,
      store,
      async fault({ load }) {
        const stoppedAt = Date.now();
        await pg.stop('fast');
        // At least 3 s, and until the load has met the outage (on a loaded machine few commands may
        // be sent in 3 s; the test asserts one was answered 503 or failed to connect).
        const downUntil = stoppedAt + 3_000;
        const metOutage = () => [...load.failures.keys()].some((answer) => answer.startsWith('503') || answer === 'connection error');
        await waitUntil(() => Date.now() >= downUntil && metOutage(), 60_000, 'a command to meet the outage');
        await pg.start();
        const restoredAt = Date.now();
        return { restoredAt, faultMs: restoredAt - stoppedAt };
      },
    });
    expectClean(result);
    expect(Object.keys(result.figures.answers ?? {}).some((answer) => answer.startsWith('503') || answer === 'connection error')).toBe(true);
  }, 180_000);
});

describeWithConcurrentPostgres('faults: event store (EventStoreDB protocol) unreachable for 10 s', () => {
  let scratch: ScratchDatabase;
  let emulator: EsdbEmulator;
  let cluster: KhalaCluster;
  let db: Database;
  let store: EventStore;

  beforeAll(async () => {
    scratch = await createScratchDatabase({ serverUrl: process.env.DATABASE_URL!, prefix: 'khala_faults_esdb' });
    emulator = await startEsdbEmulator();
    cluster = await startKhalaCluster({ databaseUrl: scratch.url, eventStoreUrl: emulator.connectionString });
    db = await Database.connect({ url: scratch.url, max: 4 });
    store = createEventStore({ eventStoreUrl: emulator.connectionString, database: db });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop().catch(() => undefined);
    await killAllApps();
    await store?.close().catch(() => undefined);
    await emulator?.stop();
    await db?.close();
    await scratch?.drop();
  }, 60_000);

  it('projectors and subscriptions resume from their checkpoints once it is back; nothing acknowledged is lost', async () => {
    const result = await runScenario({
      name: 'event store unreachable 10 s (ESDB emulator)',
      ...steadyLoadOn(cluster),
      db,
      serverUrl: process.env.DATABASE_URL!,
      store,
      async fault() {
        const stoppedAt = Date.now();
        await emulator.stop();
        await sleep(10_000);
        // The same port and the same log: a server restart that kept its data.
        emulator = await startEsdbEmulator({ port: emulator.port, log: emulator.log });
        const restoredAt = Date.now();
        return { restoredAt, faultMs: restoredAt - stoppedAt };
      },
    });
    expectClean(result);
  }, 180_000);
});
