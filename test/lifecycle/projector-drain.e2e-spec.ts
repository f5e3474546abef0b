import { Database } from '@khala/platform';
import { AdvisoryLease, DEFAULT_CHECKPOINT_TABLE, loadCheckpoint, projectionLeaseKey } from '@khala/projections';
import { CONTROL_PROJECTOR_OPTIONS, controlProjections } from '../../apps/control/src/projections/control-projections';
import { runtimeProjections } from '../../apps/runtime/src/projections/runtime-projections';
import { PostgresEventStore } from '@khala/eventstore';
import { randomUUID } from 'node:crypto';
import { appendRun } from '../projections/support/projection-fixtures';
import { startApp } from '../support/processes/app-process';
import { startTestSystem } from '../support/system';
import { describeOnPostgres, usePrivateDatabase } from '../support/test-database';

/** Every projection lease the runtime and control processes take. */
const RUNTIME_LEASES = runtimeProjections().map((projection) => projectionLeaseKey(DEFAULT_CHECKPOINT_TABLE, projection.name));
const CONTROL_LEASE = projectionLeaseKey(CONTROL_PROJECTOR_OPTIONS.checkpointTable!, controlProjections()[0].name);
const ALL_LEASES = [...RUNTIME_LEASES, CONTROL_LEASE];

/** Whether another instance could take the lease now (it gives it back at once if so). */
async function leaseIsFree(db: Database, key: string): Promise<boolean> {
  const lease = new AdvisoryLease(db, key);
  try {
    return await lease.tryAcquire();
  } finally {
    await lease.release();
  }
}

async function freeLeases(db: Database, keys: string[]): Promise<string[]> {
  const free: string[] = [];
  for (const key of keys) if (await leaseIsFree(db, key)) free.push(key);
  return free;
}

/** Polls until every lease of `keys` is held by someone (the apps under test), or gives up after ~10 s; returns the ones held. */
async function heldLeases(db: Database, keys: string[]): Promise<string[]> {
  let held: string[] = [];
  for (let i = 0; i < 200; i++) {
    const free = await freeLeases(db, keys);
    held = keys.filter((key) => !free.includes(key));
    if (held.length === keys.length) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return held;
}

/**
 * A database of the block's own, so no other test's projectors hold or take the leases meanwhile,
 * and a connection to it to look at them.
 */
function useOwnDatabase(): { readonly url: string; readonly db: Database } {
  const own = {} as { url: string; db: Database; release?: () => Promise<void> };
  beforeAll(async () => {
    const privateDb = await usePrivateDatabase();
    own.url = privateDb.url;
    own.release = () => privateDb.release();
    own.db = await Database.connect({ url: privateDb.url, max: 2 });
  });
  afterAll(async () => {
    await own.db?.close();
    await own.release?.();
  });
  return own;
}

/**
 * Graceful drain of projectors (issue 15, item 3; docs/deploy.md "Graceful drain"): a shutdown
 * lets each projector finish the batch in hand and gives its lease back, so a standby can take
 * over at once instead of waiting for the holder's connection to die. Each test runs on a database
 * of its own, so no other test's projectors hold or take the leases meanwhile.
 */
describe('projectors release their leases on shutdown', () => {
  const own = useOwnDatabase();

  it('embedded runtime and control (app.close(), the SIGTERM path): every lease is free as soon as close resolves', async () => {
    const system = await startTestSystem();
    try {
      // Held while the apps run: another instance would stand by.
      expect((await heldLeases(own.db, ALL_LEASES)).sort()).toEqual([...ALL_LEASES].sort());
    } finally {
      await system.stop();
    }
    expect((await freeLeases(own.db, ALL_LEASES)).sort()).toEqual([...ALL_LEASES].sort());
  }, 90_000);
});

describeOnPostgres('the projector worker is a process of its own, and its leases are Postgres advisory locks')('projector worker on SIGTERM', () => {
  const own = useOwnDatabase();

  it('finishes its batch, releases every lease and exits 0; its checkpoints hold every batch it reported', async () => {
    const worker = await startApp('projector-worker', { DATABASE_URL: own.url, PROJECTOR_REPORT_COMMITS: '1', POLL_INTERVAL_MS: '50' });
    try {
      expect((await heldLeases(own.db, RUNTIME_LEASES)).sort()).toEqual([...RUNTIME_LEASES].sort());
      // Runs keep being appended, so the worker has batches in hand when the signal comes.
      const store = new PostgresEventStore(own.db, { pollIntervalMs: 50 });
      let writing = true;
      const writer = (async () => {
        for (let r = 0; writing; r++) {
          const runId = `run_drain_${r}_${randomUUID().slice(0, 6)}`;
          await appendRun(store, `run-${runId}`, runId, 'org_drain', 5);
        }
      })();
      while (!worker.output().includes('{"commit"')) await new Promise((resolve) => setTimeout(resolve, 20));
      await worker.stop(30_000);
      writing = false;
      await writer;
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect((await freeLeases(own.db, RUNTIME_LEASES)).sort()).toEqual([...RUNTIME_LEASES].sort());
      // A batch it reported as committed is in its checkpoint (nothing reported was cut off).
      for (const line of worker.output().split('\n')) {
        if (!line.startsWith('{"commit"')) continue;
        const { commit, prepare } = JSON.parse(line) as { commit: string; prepare: string };
        const checkpoint = await loadCheckpoint(own.db, commit);
        expect(checkpoint!.position.prepare >= BigInt(prepare)).toBe(true);
      }
    } finally {
      await worker.kill();
    }
  }, 90_000);
});
