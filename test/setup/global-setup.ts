import { randomBytes } from 'node:crypto';
import { Database, migrateUp, quoteIdentifier, redactDatabaseUrl, startEmbeddedPostgres, withDatabaseName } from '../../libs/platform/src';

/**
 * Gives the test run its own freshly migrated database. With DATABASE_URL (CI, real Postgres) it
 * creates `khala_test_<random>` on that server; without, it serves an in-memory PGlite. Test files
 * read the result from KHALA_TEST_DATABASE_URL and share the one database, so every test uses
 * fresh ids instead of assuming an empty store.
 */
export default async function globalSetup(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  let url: string;
  if (adminUrl) {
    const name = `khala_test_${randomBytes(4).toString('hex')}`;
    const admin = await Database.connect({ url: adminUrl, max: 1 });
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    await admin.close();
    url = withDatabaseName(adminUrl, name);
    (globalThis as Record<string, unknown>).__KHALA_TEST_DB__ = { adminUrl, name };
  } else {
    const embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
    url = embedded.url;
    (globalThis as Record<string, unknown>).__KHALA_EMBEDDED__ = embedded;
  }
  const db = await Database.connect({ url, max: 1 });
  await migrateUp(db);
  const kind = db.isPglite ? 'PGlite (embedded, in memory)' : 'Postgres';
  await db.close();
  process.env.KHALA_TEST_DATABASE_URL = url;
  process.env.KHALA_TEST_DATABASE_KIND = kind.startsWith('PGlite') ? 'pglite' : 'postgres';
  console.log(`\n[test database] ${kind}: ${redactDatabaseUrl(url)}`);
}
