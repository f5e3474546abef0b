import { Database } from '@khala/platform';

export const isPgliteRun = () => process.env.KHALA_TEST_DATABASE_KIND === 'pglite';

export function testDatabaseUrl(): string {
  const url = process.env.KHALA_TEST_DATABASE_URL;
  if (!url) throw new Error('KHALA_TEST_DATABASE_URL is not set: run tests through jest (global setup)');
  return url;
}

export function connectTestDatabase(options: { role?: string; max?: number } = {}): Promise<Database> {
  return Database.connect({ url: testDatabaseUrl(), ...options });
}

/**
 * Races of real concurrent transactions need a server with more than one backend. PGlite runs one
 * transaction at a time, so those tests run on Postgres (CI) and say so when skipped.
 */
export const describeWithConcurrentPostgres: jest.Describe = ((name: string, fn: () => void) => {
  if (isPgliteRun()) {
     
    console.log(`skipped on PGlite (needs concurrent transactions; runs on Postgres in CI): ${name}`);
    return describe.skip(name, fn);
  }
  return describe(name, fn);
}) as jest.Describe;

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
