import { createScratchDatabase, Database, migrateUp, redactDatabaseUrl } from '../../libs/platform/src';
import { setPgliteDiagnostics } from '../../libs/platform/src/database/pglite-socket-affinity';

/**
 * Gives the test run its own freshly migrated database. With DATABASE_URL (CI, real Postgres) it
 * creates `khala_test_<random>` on that server; without, it serves an in-memory PGlite. Test files
 * read the result from KHALA_TEST_DATABASE_URL and share the one database, so every test uses
 * fresh ids instead of assuming an empty store.
 */
export default async function globalSetup(): Promise<void> {
  setPgliteDiagnostics(Boolean(process.env.KHALA_PGLITE_DEBUG));
  const scratch = await createScratchDatabase({ serverUrl: process.env.DATABASE_URL, prefix: 'khala_test' });
  (globalThis as Record<string, unknown>).__KHALA_TEST_DB__ = scratch;
  const db = await Database.connect({ url: scratch.url, max: 1 });
  await migrateUp(db);
  const kind = db.isPglite ? 'pglite' : 'postgres';
  await db.close();
  process.env.KHALA_TEST_DATABASE_URL = scratch.url;
  process.env.KHALA_TEST_DATABASE_KIND = kind;
  console.log(`\n[test database] ${kind === 'pglite' ? 'PGlite (embedded, in memory)' : 'Postgres'}: ${redactDatabaseUrl(scratch.url)}`);
}
