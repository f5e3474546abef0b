import { Database } from '@khala/platform';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';

// Found by test/faults (Postgres restart): the projector worker died of an unhandled 'error' event
// when the server shut down while one of its transactions sat between two statements.
describeWithConcurrentPostgres('a transaction whose connection is killed between statements', () => {
  let db: Database;
  let admin: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    admin = await connectTestDatabase({ max: 1 });
  });
  afterAll(async () => {
    await db.close();
    await admin.close();
  });

  it('rejects with a connection error instead of crashing the process, and the pool recovers', async () => {
    const outcome = db.transaction(async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      // The FATAL arrives while no statement is running on this connection.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await tx.query('SELECT 1');
    });
    await expect(outcome).rejects.toThrow();
    const { rows } = await db.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows[0].ok).toBe(1);
  });
});
