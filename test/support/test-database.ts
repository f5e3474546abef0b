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
  const { Database: Db, migrateUp, quoteIdentifier, startEmbeddedPostgres, withDatabaseName } = await import('@khala/platform');
  let url: string;
  let dispose: () => Promise<void>;
  if (isPgliteRun()) {
    const embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
    url = embedded.url;
    dispose = () => embedded.stop();
  } else {
    const name = `khala_private_${Math.random().toString(36).slice(2, 10)}`;
    const admin = await Db.connect({ url: shared, max: 1 });
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    await admin.close();
    url = withDatabaseName(shared, name);
    dispose = async () => {
      const cleanup = await Db.connect({ url: shared, max: 1 });
      await cleanup.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await cleanup.close();
    };
  }
  const db = await Db.connect({ url, max: 1 });
  await migrateUp(db);
  await db.close();
  process.env.KHALA_TEST_DATABASE_URL = url;
  return {
    url,
    async release() {
      process.env.KHALA_TEST_DATABASE_URL = shared;
      await dispose();
    },
  };
}
