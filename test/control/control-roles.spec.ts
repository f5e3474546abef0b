import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';

/**
 * INV-04 against the real tables of migration 0003: runtime and the gateway read exactly the two
 * relations they need (revocations, api_token_credentials) and write nothing in control.*.
 * Each probe runs under SET LOCAL ROLE in a transaction that is rolled back either way.
 */
describe('control schema privileges (INV-04)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
  });
  afterAll(() => db.close());

  async function asRole(role: string, sql: string): Promise<void> {
    await db.transaction(async (client) => {
      await client.query(`SET LOCAL ROLE ${role}`);
      await client.query(sql);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
    });
  }

  const writes = [
    `INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at) VALUES ('s', 'u', 'o', 'd', 'r', now())`,
    `DELETE FROM control.revocations`,
    `UPDATE control.api_tokens SET revoked_at = NULL`,
    `INSERT INTO control.users (user_id, email, name, default_org_id, created_at, revision) VALUES ('u', 'e', 'n', 'o', now(), 0)`,
    `UPDATE control.sessions SET revoked_at = NULL`,
    `INSERT INTO control.memberships (org_id, user_id, role, granted_at, revision) VALUES ('o', 'u', 'owner', now(), 0)`,
    `DELETE FROM control.email_reservations`,
    `UPDATE control.auth_throttle SET tokens = 100`,
  ];

  for (const role of ['khala_runtime', 'khala_gateway']) {
    it(`${role} cannot write any control table`, async () => {
      for (const sql of writes) await expect(asRole(role, sql)).rejects.toThrow(/permission denied/);
    });

    it(`${role} reads revocations and API token credentials, and nothing else in control`, async () => {
      await expect(asRole(role, 'SELECT session_id FROM control.revocations')).resolves.toBeUndefined();
      await expect(asRole(role, 'SELECT token_hash, revoked_at FROM control.api_token_credentials')).resolves.toBeUndefined();
      for (const table of ['users', 'sessions', 'api_tokens', 'email_reservations', 'memberships', 'orgs', 'auth_throttle']) {
        await expect(asRole(role, `SELECT * FROM control.${table}`)).rejects.toThrow(/permission denied/);
      }
    });
  }

  it('khala_control writes its own tables', async () => {
    for (const sql of writes) await expect(asRole('khala_control', sql)).resolves.toBeUndefined();
  });
});
