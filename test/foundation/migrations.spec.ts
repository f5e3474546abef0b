import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { assertSchemaCurrent, Database, detectSchemaDrift, migrateUp, MigrationError, readMigrationFiles } from '@khala/platform';
import { connectTestDatabase, testDatabaseUrl } from '../support/test-database';

// Drift tests share one file so no other file's deliberate drift runs at the same time.
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

const run = promisify(execFile);

/** Runs `oa` as operators do: a separate process, judged by its exit code and output. */
async function oa(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, ['-r', '@swc-node/register', 'apps/cli/src/main.ts', ...args], {
      env: { ...process.env, DATABASE_URL: testDatabaseUrl(), SWC_NODE_PROJECT: 'tsconfig.json' },
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('oa migrate', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(() => db.close());

  it('up is a no-op on a current database and verify passes (exit 0)', async () => {
    expect(await oa('--json', 'migrate', 'up')).toEqual({ code: 0, stdout: '{"applied":[]}\n' });
    const verify = await oa('migrate', 'verify');
    expect(verify).toEqual({ code: 0, stdout: 'schema matches the migrations\n' });
  });

  it('verify exits 2 and prints the difference on a hand-made drift', async () => {
    await db.query('CREATE TABLE runtime.hand_made_table (id integer)');
    try {
      const verify = await oa('migrate', 'verify');
      expect(verify.code).toBe(2);
      expect(verify.stdout).toContain('schema does NOT match the migrations');
      expect(verify.stdout).toContain('+ relation runtime.hand_made_table kind=r');
    } finally {
      await db.query('DROP TABLE runtime.hand_made_table');
    }
  });
});
