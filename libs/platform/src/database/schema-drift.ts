import { Database } from './database';
import { MigrationFile, migrateUp, readMigrationFiles } from './migrations';
import { createScratchDatabase } from './scratch-database';

/** The schemas migrations own; drift anywhere else (extensions, other apps) is not ours to judge. */
export const OWNED_SCHEMAS = ['eventstore', 'control', 'runtime', 'khala'];

export interface SchemaDrift {
  /** In the live database but not produced by the migrations (hand-made changes). */
  unexpected: string[];
  /** Produced by the migrations but absent from the live database (hand-dropped objects). */
  missing: string[];
}

/**
 * One line per schema object and privilege, in a form that names nothing database-specific, so two
 * databases built by the same migrations describe identically.
 */
export async function describeSchema(db: Database): Promise<string[]> {
  const params = [OWNED_SCHEMAS];
  const queries = [
    `select format('schema %s owner-grants %s', n.nspname, coalesce(array_to_string(array(
        select a.privilege_type || ' to ' || pg_get_userbyid(a.grantee) from aclexplode(n.nspacl) a
        where pg_get_userbyid(a.grantee) like 'khala\\_%' order by 1), ','), ''))
       from pg_namespace n where n.nspname = any($1)`,
    `select format('relation %s.%s kind=%s rls=%s', n.nspname, c.relname, c.relkind, c.relrowsecurity)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r','v','m','S','p')`,
    `select format('column %s.%s.%s %s %s default=%s', table_schema, table_name, column_name,
            data_type, case when is_nullable = 'NO' then 'not null' else 'null' end, coalesce(column_default, '-'))
       from information_schema.columns where table_schema = any($1)`,
    `select format('constraint %s.%s %s', n.nspname, cl.relname, pg_get_constraintdef(c.oid))
       from pg_constraint c join pg_class cl on cl.oid = c.conrelid join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = any($1)`,
    `select format('index %s', indexdef) from pg_indexes where schemaname = any($1)`,
    `select format('grant %s %s on %s.%s', grantee, privilege_type, table_schema, table_name)
       from information_schema.role_table_grants
      where table_schema = any($1) and grantee like 'khala\\_%'`,
    `select format('policy %s.%s %s %s roles=%s using=%s check=%s', schemaname, tablename, policyname, cmd,
            roles::text, coalesce(qual, '-'), coalesce(with_check, '-'))
       from pg_policies where schemaname = any($1)`,
    `select format('function %s.%s(%s) md5=%s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
            md5(pg_get_functiondef(p.oid)))
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = any($1) and p.prokind in ('f','p')`,
    `select format('trigger %s.%s %s', n.nspname, c.relname, pg_get_triggerdef(t.oid))
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and not t.tgisinternal`,
    `select format('view %s.%s md5=%s', schemaname, viewname, md5(definition)) from pg_views where schemaname = any($1)`,
  ];
  const lines: string[] = [];
  for (const sql of queries) {
    const { rows } = await db.query<{ format: string }>(sql, params);
    lines.push(...rows.map((row) => row.format));
  }
  return lines.sort();
}

export function diffSchemas(live: string[], expected: string[]): SchemaDrift {
  const liveSet = new Set(live);
  const expectedSet = new Set(expected);
  return {
    unexpected: live.filter((line) => !expectedSet.has(line)),
    missing: expected.filter((line) => !liveSet.has(line)),
  };
}

/**
 * Builds what the migrations produce in a scratch database (on the same server, so the catalog
 * output matches) and compares it with the live schema.
 */
export async function detectSchemaDrift(
  live: Database,
  liveUrl: string,
  files: MigrationFile[] = readMigrationFiles(),
): Promise<SchemaDrift> {
  const liveDescription = await describeSchema(live);
  const expected = await withScratchDatabase(live, liveUrl, async (scratch) => {
    await migrateUp(scratch, files);
    return describeSchema(scratch);
  });
  return diffSchemas(liveDescription, expected);
}

async function withScratchDatabase<T>(live: Database, liveUrl: string, work: (db: Database) => Promise<T>): Promise<T> {
  const scratch = await createScratchDatabase({ serverUrl: live.isPglite ? undefined : liveUrl, prefix: 'khala_verify' });
  const db = await Database.connect({ url: scratch.url, max: 2 });
  try {
    return await work(db);
  } finally {
    await db.close();
    await scratch.drop();
  }
}
