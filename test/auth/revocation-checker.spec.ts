import { randomUUID } from 'node:crypto';
import { Principal } from '@khala/auth';
import { PostgresRevocationChecker } from '../../libs/auth/src/postgres-auth-stores';
import { Database, Queryable } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';

describe('PostgresRevocationChecker (control.revocations on a real database)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
  });
  afterAll(() => db.close());

  const principal = (sessionId: string): Principal => ({
    userId: 'user_1',
    orgId: 'org_1',
    sessionId,
    deviceId: 'device_1',
    tokenId: randomUUID(),
    expiresAt: Date.now() + 60_000,
  });
  /** The real database, counting the statements the checker sends. */
  const counted = () => {
    const counter = { statements: 0, db: undefined as unknown as Queryable };
    counter.db = { query: (sql: string, params?: unknown[]) => ((counter.statements += 1), db.query(sql, params)) } as Queryable;
    return counter;
  };

  it('answers concurrent requests of one session with one lookup, then from its cache', async () => {
    const counter = counted();
    const checker = new PostgresRevocationChecker(counter.db, { negativeCacheMs: 60_000 });
    const session = `session_${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => checker.isRevoked(principal(session))));
    expect(answers.every((revoked) => revoked === false)).toBe(true);
    expect(counter.statements).toBe(1);
    expect(await checker.isRevoked(principal(session))).toBe(false);
    expect(counter.statements).toBe(1);
  });

  it('sees a revocation once the negative answer has expired, and keeps it', async () => {
    const counter = counted();
    const checker = new PostgresRevocationChecker(counter.db, { negativeCacheMs: 0 });
    const session = `session_${randomUUID()}`;
    expect(await checker.isRevoked(principal(session))).toBe(false);
    await db.query(
      `INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at) VALUES ($1, 'user_1', 'org_1', 'device_1', 'test', now())`,
      [session],
    );
    const answers = await Promise.all(Array.from({ length: 10 }, () => checker.isRevoked(principal(session))));
    expect(answers.every((revoked) => revoked === true)).toBe(true);
    const statements = counter.statements;
    expect(await checker.isRevoked(principal(session))).toBe(true);
    expect(counter.statements).toBe(statements);
  });
});
