import { Database } from '@khala/platform';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';

describeWithConcurrentPostgres('Database.listen (real LISTEN/NOTIFY)', () => {
  it('concurrent first LISTENs share one connection, both hear NOTIFY, and close() completes', async () => {
    const db: Database = await connectTestDatabase({ max: 4 });
    const heard: string[] = [];
    await Promise.all([
      db.listen('khala_listen_probe_a', (payload) => heard.push(`a:${payload}`)),
      db.listen('khala_listen_probe_b', (payload) => heard.push(`b:${payload}`)),
    ]);
    expect(db.pool.totalCount).toBe(1);
    await db.query(`SELECT pg_notify('khala_listen_probe_a', 'one'), pg_notify('khala_listen_probe_b', 'two')`);
    for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard.sort()).toEqual(['a:one', 'b:two']);
    await db.close();
    expect(db.pool.totalCount).toBe(0);
  });
});
