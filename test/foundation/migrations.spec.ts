import { assertSchemaCurrent, Database, detectSchemaDrift, migrateUp, MigrationError, readMigrationFiles } from '@khala/platform';
import { connectTestDatabase, testDatabaseUrl } from '../support/test-database';

describe('migrations (INV-09)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
  });
  afterAll(() => db.close());

  it('are applied once: a second migrate up applies nothing and the schema is current', async () => {
    await expect(migrateUp(db)).resolves.toEqual([]);
    await expect(assertSchemaCurrent(db)).resolves.toBeUndefined();
  });

  it('verify reports no drift on a freshly migrated database', async () => {
    await expect(detectSchemaDrift(db, testDatabaseUrl())).resolves.toEqual({ unexpected: [], missing: [] });
  });

  it('verify catches a hand-made drift in both directions', async () => {
    await db.query('ALTER TABLE runtime.run_summaries ADD COLUMN hand_made integer');
    await db.query('DROP INDEX runtime.run_summaries_org_newest');
    try {
      const drift = await detectSchemaDrift(db, testDatabaseUrl());
      expect(drift.unexpected).toEqual(['column runtime.run_summaries.hand_made integer null default=-']);
      expect(drift.missing).toEqual([expect.stringContaining('index CREATE INDEX run_summaries_org_newest')]);
    } finally {
      await db.query('ALTER TABLE runtime.run_summaries DROP COLUMN hand_made');
      await db.query('CREATE INDEX run_summaries_org_newest ON runtime.run_summaries (org_id, created_at DESC, run_id DESC)');
    }
  });

  it('an app refuses a database that is behind', async () => {
    const files = readMigrationFiles();
    const future = { version: '9999', name: 'future', sql: 'select 1', checksum: 'x' };
    await expect(assertSchemaCurrent(db, [...files, future])).rejects.toThrow(MigrationError);
    await expect(assertSchemaCurrent(db, [...files, future])).rejects.toThrow(/pending migrations: 9999/);
  });
});
