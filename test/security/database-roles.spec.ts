import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { describeOnPostgres, testDatabaseUrl, usePrivateDatabase } from '../support/test-database';

/**
 * Each app role tries to cross its boundary on a real Postgres server: other apps' schemas, event
 * store categories it does not own (row-level security), rewriting history, DDL, role escalation,
 * server-side programs and files. Every attempt must be refused.
 *
 * Each probe runs in a transaction under `SET LOCAL SESSION AUTHORIZATION <role>`: the session
 * user itself becomes the app role (as when the app logs in with it), so `SET ROLE postgres` is
 * judged by the app role's memberships, not the test's superuser connection; the transaction is
 * rolled back either way. test/foundation/role-isolation.spec.ts and test/control/control-roles.spec.ts
 * cover the basic read/write grants; this file adds the attacks. PGlite has one built-in user and
 * no server programs or files, so this runs on Postgres only.
 */
const ROLES = ['khala_control', 'khala_runtime', 'khala_gateway'] as const;
type Role = (typeof ROLES)[number];

describeOnPostgres('one built-in superuser, no server files or programs')('database roles cannot cross their boundaries', () => {
  let client: Client;
  let privateDatabase: { release(): Promise<void> };
  const marker = randomUUID();

  beforeAll(async () => {
    // A database of its own: the probe events below are of no real event type, and the projectors
    // of other test files on the shared database would take one in `user-` as poison and halt
    // control's projection ('stop') for every later signup.
    privateDatabase = await usePrivateDatabase();
    client = new Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    // One event of each app's category, written as the owner, for the RLS read probes.
    for (const [stream, category] of [[`user-${marker}`, 'user'], [`run-${marker}`, 'run']]) {
      await client.query(`INSERT INTO eventstore.streams (stream_id, category, revision) VALUES ($1, $2, 0)`, [stream, category]);
      await client.query(
        `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
         VALUES (gen_random_uuid(), $1, $2, 0, 'Probe', '{}', '{}')`,
        [stream, category],
      );
    }
  });
  afterAll(async () => {
    await client?.end();
    await privateDatabase?.release();
  });

  /** Runs `sql` as `role`; resolves with the rows, or rejects with the server's error. */
  async function asRole(role: Role, sql: string, params: unknown[] = []): Promise<unknown[]> {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL SESSION AUTHORIZATION ${role}`);
      return (await client.query(sql, params)).rows;
    } finally {
      await client.query('ROLLBACK');
    }
  }

  /** As `role` outside a transaction (for statements Postgres refuses inside one), then back. */
  async function asRoleOutsideTransaction(role: Role, sql: string): Promise<void> {
    await client.query(`SET SESSION AUTHORIZATION ${role}`);
    try {
      await client.query(sql);
    } finally {
      await client.query('RESET SESSION AUTHORIZATION');
    }
  }

  const REFUSAL = /permission denied|must be|must have|not allowed|violates|only superuser|row-level security|privileges/;

  /** Names the statement in a failure: which probe got through matters more than where. */
  async function refused(role: Role, sql: string, pattern: RegExp = REFUSAL, run: (role: Role, sql: string) => Promise<unknown> = asRole): Promise<void> {
    const outcome = await run(role, sql).then(
      () => 'allowed',
      (error: Error) => error.message,
    );
    expect({ role, sql, refused: pattern.test(outcome) ? true : outcome }).toEqual({ role, sql, refused: true });
  }

  it('the roles are plain: no superuser, no CREATEROLE/CREATEDB, no BYPASSRLS, no replication, and members of no other role', async () => {
    const { rows } = await client.query(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
              (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)::int AS memberships
         FROM pg_roles r WHERE rolname = ANY($1) ORDER BY rolname`,
      [[...ROLES]],
    );
    expect(rows).toEqual(
      [...ROLES].sort().map((rolname) => ({ rolname, rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false, rolreplication: false, memberships: 0 })),
    );
  });

  it("each role is refused the other apps' schemas (reads and writes)", async () => {
    await refused('khala_control', 'SELECT * FROM runtime.run_summaries');
    await refused('khala_control', 'SELECT * FROM runtime.idempotency_keys');
    await refused('khala_control', 'SELECT * FROM khala.journal');
    await refused('khala_control', `INSERT INTO khala.journal (topic, org_id, watermark, doc_key, doc_version, payload_hash) VALUES ('t', 'o', 1, 'd', 1, 'h')`);
    await refused('khala_control', `UPDATE runtime.run_summaries SET org_id = 'x'`);
    await refused('khala_runtime', 'SELECT * FROM control.users');
    await refused('khala_runtime', `UPDATE control.api_tokens SET revoked_at = NULL`);
    await refused('khala_runtime', 'DELETE FROM control.revocations');
    await refused('khala_gateway', 'SELECT * FROM control.sessions');
    await refused('khala_gateway', 'SELECT * FROM runtime.idempotency_keys');
    await refused('khala_gateway', 'SELECT * FROM eventstore.events');
    await refused('khala_gateway', `DELETE FROM khala.journal`);
    await refused('khala_gateway', `UPDATE khala.topic_sequences SET retained_from = 1`);
    await refused('khala_gateway', `UPDATE runtime.run_summaries SET document = '{}'`);
  });

  it('the event store: each app sees only its own categories (RLS), and no app can spoof, rewrite or erase history', async () => {
    expect(await asRole('khala_runtime', 'SELECT stream_id FROM eventstore.events WHERE stream_id = ANY($1)', [[`user-${marker}`, `run-${marker}`]])).toEqual([
      { stream_id: `run-${marker}` },
    ]);
    expect(await asRole('khala_control', 'SELECT stream_id FROM eventstore.events WHERE stream_id = ANY($1)', [[`user-${marker}`, `run-${marker}`]])).toEqual([
      { stream_id: `user-${marker}` },
    ]);
    expect(await asRole('khala_runtime', 'SELECT stream_id FROM eventstore.streams WHERE stream_id = $1', [`user-${marker}`])).toEqual([]);
    const insert = (stream: string, category: string) =>
      `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
       VALUES (gen_random_uuid(), '${stream}', '${category}', 1, 'Forged', '{}', '{}')`;
    // Another app's category, declared honestly: RLS.
    await refused('khala_runtime', insert(`user-${marker}`, 'user'), /row-level security/);
    await refused('khala_control', insert(`run-${marker}`, 'run'), /row-level security/);
    // Another app's stream under one's own category: the category must match the stream name (0008).
    await refused('khala_runtime', insert(`user-${randomUUID()}`, 'run'), /events_category_matches_name/);
    await refused('khala_runtime', `INSERT INTO eventstore.streams (stream_id, category) VALUES ('session-${randomUUID()}', 'run')`, /streams_category_matches_name/);
    await refused('khala_control', insert(`codexWorker-${randomUUID()}`, 'user'), /events_category_matches_name/);
    // History is append-only for every app.
    for (const role of ['khala_runtime', 'khala_control'] as const) {
      await refused(role, `UPDATE eventstore.events SET data = '{"forged": true}'`);
      await refused(role, 'DELETE FROM eventstore.events');
      await refused(role, 'TRUNCATE eventstore.events');
      await refused(role, 'DELETE FROM eventstore.streams');
    }
  });

  it('no role can change the schema: DDL, dropping tables, disabling row-level security, creating schemas or functions', async () => {
    for (const role of ROLES) {
      await refused(role, 'CREATE TABLE public.probe (id int)');
      await refused(role, 'CREATE TABLE runtime.probe (id int)');
      await refused(role, 'CREATE TABLE khala.probe (id int)');
      await refused(role, 'CREATE SCHEMA probe');
      await refused(role, 'DROP TABLE khala.journal');
      await refused(role, 'ALTER TABLE runtime.run_summaries ADD COLUMN probe int');
      await refused(role, 'ALTER TABLE eventstore.events DISABLE ROW LEVEL SECURITY');
      await refused(role, 'DROP POLICY runtime_events ON eventstore.events');
      await refused(role, 'ALTER TABLE eventstore.events DROP CONSTRAINT events_category_matches_name');
      await refused(role, `CREATE FUNCTION public.probe() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
      // GRANT without the grant option only warns ("no privileges were granted"): check its effect.
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL SESSION AUTHORIZATION ${role}`);
        for (const grant of ['GRANT SELECT ON control.users TO PUBLIC', 'GRANT INSERT ON khala.journal TO khala_gateway']) {
          await client.query('SAVEPOINT grant_probe');
          await client.query(grant).then(
            () => client.query('RELEASE SAVEPOINT grant_probe'),
            () => client.query('ROLLBACK TO SAVEPOINT grant_probe'),
          );
        }
        await client.query('SET LOCAL SESSION AUTHORIZATION DEFAULT');
        const { rows } = await client.query(
          `SELECT has_table_privilege('khala_gateway', 'control.users', 'SELECT') AS users, has_table_privilege('khala_gateway', 'khala.journal', 'INSERT') AS journal`,
        );
        expect({ role, ...rows[0] }).toEqual({ role, users: false, journal: false });
      } finally {
        await client.query('ROLLBACK');
      }
      await refused(role, 'DELETE FROM public.schema_migrations');
    }
  });

  it('no role can escalate: SET ROLE, CREATE/ALTER ROLE, granting itself another role', async () => {
    for (const role of ROLES) {
      await refused(role, 'SET ROLE postgres');
      for (const other of ROLES.filter((candidate) => candidate !== role)) await refused(role, `SET ROLE ${other}`);
      await refused(role, 'CREATE ROLE probe_escalation SUPERUSER');
      await refused(role, `ALTER ROLE ${role} SUPERUSER`);
      await refused(role, `ALTER ROLE ${role} BYPASSRLS`);
      await refused(role, `GRANT postgres TO ${role}`);
      await refused(role, `GRANT ${role === 'khala_control' ? 'khala_runtime' : 'khala_control'} TO ${role}`);
      await refused(role, `ALTER ROLE postgres PASSWORD 'pwned'`);
    }
  });

  it('no role can reach the server host: COPY TO/FROM PROGRAM, server files, large-object import', async () => {
    for (const role of ROLES) {
      await refused(role, `COPY (SELECT 1) TO PROGRAM 'id'`);
      await refused(role, `COPY (SELECT 1) TO '/tmp/khala-probe'`);
      await refused(role, `CREATE TEMP TABLE probe (line text); COPY probe FROM '/etc/passwd'`);
      await refused(role, `SELECT pg_read_file('/etc/passwd')`);
      await refused(role, `SELECT pg_read_binary_file('postgresql.conf')`);
      await refused(role, `SELECT pg_ls_dir('.')`);
      await refused(role, `SELECT lo_import('/etc/passwd')`);
      await refused(role, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres' AND pid <> pg_backend_pid()`);
      await refused(role, `ALTER SYSTEM SET log_statement = 'none'`, REFUSAL, asRoleOutsideTransaction);
      await refused(role, `CREATE EXTENSION IF NOT EXISTS dblink`, /permission denied|must be|not allowed|could not open|is not available|superuser|privileges/);
    }
  });
});
