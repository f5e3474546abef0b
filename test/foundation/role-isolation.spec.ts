import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';

/**
 * Least privilege per app, checked against the real server. Each probe runs as the app's role with
 * SET LOCAL ROLE inside a transaction (scoped to that transaction, so it also holds on PGlite,
 * whose sockets share one session) and is rolled back either way.
 */
describe('database roles (INV-04, INV-06)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
  });
  afterAll(() => db.close());

  async function asRole(role: string, sql: string, params: unknown[] = []): Promise<void> {
    await db.transaction(async (client) => {
      await client.query(`SET LOCAL ROLE ${role}`);
      await client.query(sql, params);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
    });
  }

  it('runtime cannot write control.*', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS control.role_probe (id text primary key)');
    await expect(asRole('khala_runtime', `INSERT INTO control.role_probe VALUES ('x')`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(asRole('khala_control', `INSERT INTO control.role_probe VALUES ('x')`)).resolves.toBeUndefined();
    await db.query('DROP TABLE control.role_probe');
  });

  it('runtime cannot append events to control categories, and control cannot append to runtime ones', async () => {
    const insert = `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
                    VALUES (gen_random_uuid(), $1, $2, 0, 'Probe', '{}', '{}')`;
    await expect(asRole('khala_runtime', insert, ['user-1', 'user'])).rejects.toThrow(/row-level security/);
    await expect(asRole('khala_control', insert, ['run-1', 'run'])).rejects.toThrow(/row-level security/);
    await expect(asRole('khala_runtime', insert, ['run-1', 'run'])).resolves.toBeUndefined();
  });

  it('khala-gateway reads the journal but writes only delivery metadata', async () => {
    await expect(asRole('khala_gateway', 'SELECT count(*) FROM khala.journal')).resolves.toBeUndefined();
    await expect(
      asRole('khala_gateway', `INSERT INTO khala.journal (topic, org_id, watermark, doc_key, doc_version, payload_hash)
                               VALUES ('t', 'o', 1, 'd', 1, 'h')`),
    ).rejects.toThrow(/permission denied/);
    await expect(asRole('khala_gateway', `UPDATE khala.topic_sequences SET head_watermark = 0`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(asRole('khala_gateway', `UPDATE runtime.run_summaries SET doc_version = 0`)).rejects.toThrow(
      /permission denied/,
    );
    // Migration 0008 dropped the never-written khala.delivery_gateways: the gateway writes nothing.
    const { rows } = await db.query<{ writable: string }>(
      `SELECT table_schema || '.' || table_name AS writable FROM information_schema.role_table_grants
        WHERE grantee = 'khala_gateway' AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')`,
    );
    expect(rows).toEqual([]);
  });
});
