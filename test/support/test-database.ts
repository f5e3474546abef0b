import { Database } from '@khala/platform';
import { describeOrSkip, itOrSkip, SuiteDefinition, TestDefinition } from './skips';

export const isPgliteRun = () => process.env.KHALA_TEST_DATABASE_KIND === 'pglite';

export function testDatabaseUrl(): string {
  const url = process.env.KHALA_TEST_DATABASE_URL;
  if (!url) throw new Error('KHALA_TEST_DATABASE_URL is not set: run tests through jest (global setup)');
  return url;
}

export function connectTestDatabase(options: { role?: string; max?: number } = {}): Promise<Database> {
  return Database.connect({ url: testDatabaseUrl(), ...options });
}

/** The reason to print when a Postgres-only suite or test meets a PGlite run; undefined on Postgres. */
export function skipReasonOnPglite(whyNotPglite: string): string | undefined {
  return isPgliteRun() ? `on PGlite: ${whyNotPglite}; runs on Postgres in CI` : undefined;
}

/** `describe` on Postgres; on PGlite a jest skip that prints `whyNotPglite`. */
export function describeOnPostgres(whyNotPglite: string): SuiteDefinition {
  return (name, fn) => describeOrSkip(skipReasonOnPglite(whyNotPglite))(name, fn);
}

/** `it` on Postgres; on PGlite a jest skip that prints `whyNotPglite`. */
export function itOnPostgres(whyNotPglite: string): TestDefinition {
  return (name, fn, timeout) => itOrSkip(skipReasonOnPglite(whyNotPglite))(name, fn, timeout);
}

/**
 * Races of real concurrent transactions need a server with more than one backend. PGlite runs one
 * transaction at a time, so those tests run on Postgres (CI) and say so when skipped.
 */
export const NEEDS_CONCURRENT_TRANSACTIONS = 'needs concurrent transactions';
export const describeWithConcurrentPostgres = describeOnPostgres(NEEDS_CONCURRENT_TRANSACTIONS);

/**
 * A freshly migrated database of this file's own, for tests of whole-database operations (a
 * projection rebuild swaps entire read-model tables) that must not share the run's database with
 * concurrent test files. Points KHALA_TEST_DATABASE_URL at it until `release()`.
 */
export async function usePrivateDatabase(): Promise<{ url: string; release(): Promise<void> }> {
  const shared = testDatabaseUrl();
  const { createScratchDatabase, Database: Db, migrateUp } = await import('@khala/platform');
  const scratch = await createScratchDatabase({ serverUrl: isPgliteRun() ? undefined : shared, prefix: 'khala_private' });
  const db = await Db.connect({ url: scratch.url, max: 1 });
  await migrateUp(db);
  await db.close();
  process.env.KHALA_TEST_DATABASE_URL = scratch.url;
  return {
    url: scratch.url,
    async release() {
      process.env.KHALA_TEST_DATABASE_URL = shared;
      await scratch.drop();
    },
  };
}
