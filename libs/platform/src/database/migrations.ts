import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Database } from './database';

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  applied: string[];
  pending: MigrationFile[];
  /** Applied migrations whose file changed afterwards: forward-only means never edit one. */
  modified: string[];
  /** Applied versions with no file: the database is ahead of this build. */
  unknown: string[];
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Serialises concurrent `migrate up` runs from several processes.
const MIGRATION_LOCK_KEY = 7_201_511;

/** Finds `migrations/` beside the package.json above this file (works from src and from dist). */
export function defaultMigrationsDir(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'migrations')) && existsSync(join(dir, 'package.json'))) return join(dir, 'migrations');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('migrations/ directory not found');
    dir = parent;
  }
}

export function readMigrationFiles(dir = defaultMigrationsDir()): MigrationFile[] {
  return readdirSync(dir)
    .filter((file) => MIGRATION_FILE.test(file))
    .sort()
    .map((file) => {
      const [, version, name] = MIGRATION_FILE.exec(file)!;
      const sql = readFileSync(join(dir, file), 'utf8');
      return { version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const CREATE_LEDGER = `
  CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`;

export async function migrationStatus(db: Database, files = readMigrationFiles()): Promise<MigrationStatus> {
  const exists = await db.query<{ present: boolean }>(
    `select to_regclass('public.schema_migrations') is not null as present`,
  );
  const appliedRows = exists.rows[0].present
    ? (await db.query<{ version: string; checksum: string }>('select version, checksum from public.schema_migrations'))
        .rows
    : [];
  const applied = new Map(appliedRows.map((row) => [row.version, row.checksum]));
  const known = new Set(files.map((file) => file.version));
  return {
    applied: [...applied.keys()].sort(),
    pending: files.filter((file) => !applied.has(file.version)),
    modified: files.filter((file) => applied.has(file.version) && applied.get(file.version) !== file.checksum).map((f) => f.version),
    unknown: [...applied.keys()].filter((version) => !known.has(version)).sort(),
  };
}

/**
 * Applies every pending migration in one transaction (Postgres DDL is transactional, so a failed
 * file leaves the database exactly as it was). Returns the versions applied.
 */
export async function migrateUp(db: Database, files = readMigrationFiles()): Promise<string[]> {
  return db.transaction(async (client) => {
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(CREATE_LEDGER);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'select version, checksum from public.schema_migrations',
    );
    const applied = new Map(rows.map((row) => [row.version, row.checksum]));
    const modified = files.filter((file) => applied.has(file.version) && applied.get(file.version) !== file.checksum);
    if (modified.length) {
      throw new MigrationError(`applied migrations were modified: ${modified.map((f) => f.version).join(', ')}`);
    }
    const pending = files.filter((file) => !applied.has(file.version));
    for (const file of pending) {
      try {
        await client.query(file.sql);
      } catch (error) {
        throw new MigrationError(`migration ${file.version}_${file.name} failed: ${(error as Error).message}`);
      }
      await client.query('insert into public.schema_migrations (version, name, checksum) values ($1, $2, $3)', [
        file.version,
        file.name,
        file.checksum,
      ]);
    }
    return pending.map((file) => file.version);
  });
}

/** Apps call this at start-up: they refuse to run on a database that is behind (or ahead). */
export async function assertSchemaCurrent(db: Database, files = readMigrationFiles()): Promise<void> {
  const status = await migrationStatus(db, files);
  const problems: string[] = [];
  if (status.pending.length) problems.push(`pending migrations: ${status.pending.map((f) => f.version).join(', ')}`);
  if (status.modified.length) problems.push(`modified migrations: ${status.modified.join(', ')}`);
  if (status.unknown.length) problems.push(`database has migrations this build does not know: ${status.unknown.join(', ')}`);
  if (problems.length) throw new MigrationError(`database schema is not current (${problems.join('; ')}); run "npm run oa -- migrate up"`);
}

export class MigrationError extends Error {}
