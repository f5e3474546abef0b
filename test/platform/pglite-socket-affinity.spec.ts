import { Client, Pool } from 'pg';
import { EmbeddedPostgres, startEmbeddedPostgres } from '@khala/platform';

/**
 * Regression tests for the embedded server's multiplexer (electric-sql/pglite#1046): many
 * connections sharing PGlite's one session must each get their own results, and a client that
 * dies mid-transaction must not wedge the others. Runs against its own in-memory PGlite.
 */
describe('embedded PGlite over the wire protocol', () => {
  let embedded: EmbeddedPostgres;
  beforeAll(async () => {
    embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
  });
  afterAll(() => embedded.stop());

  it('keeps concurrent parameterised queries from different connections apart', async () => {
    const pool = new Pool({ connectionString: embedded.url, max: 12 });
    try {
      const results = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          pool.query<{ sum: number; tag: string }>('SELECT $1::int + $2::int AS sum, $3::text AS tag', [i, 1000, `q${i}`]),
        ),
      );
      results.forEach((result, i) => expect(result.rows).toEqual([{ sum: i + 1000, tag: `q${i}` }]));
    } finally {
      await pool.end();
    }
  });

  it('interleaves transactions and plain queries without losing a write', async () => {
    const pool = new Pool({ connectionString: embedded.url, max: 8 });
    try {
      await pool.query('CREATE TABLE IF NOT EXISTS affinity_probe (id int primary key, note text)');
      await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          if (i % 2 === 0) {
            const client = await pool.connect();
            try {
              await client.query('BEGIN');
              await client.query('INSERT INTO affinity_probe VALUES ($1, $2)', [i, `tx${i}`]);
              await client.query('COMMIT');
            } finally {
              client.release();
            }
          } else {
            await pool.query('INSERT INTO affinity_probe VALUES ($1, $2)', [i, `plain${i}`]);
          }
        }),
      );
      const { rows } = await pool.query<{ count: string }>('SELECT count(*) FROM affinity_probe');
      expect(Number(rows[0].count)).toBe(60);
    } finally {
      await pool.end();
    }
  });

  it('releases a connection that dies inside a transaction, rolling it back', async () => {
    const doomed = new Client({ connectionString: embedded.url });
    await doomed.connect();
    doomed.on('error', () => undefined);
    await doomed.query('CREATE TABLE IF NOT EXISTS affinity_doomed (id int)');
    await doomed.query('BEGIN');
    await doomed.query('INSERT INTO affinity_doomed VALUES (1)');
    (doomed as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

    const survivor = new Client({ connectionString: embedded.url });
    await survivor.connect();
    try {
      const { rows } = await survivor.query<{ count: string }>('SELECT count(*) FROM affinity_doomed');
      expect(rows[0].count).toBe('0');
    } finally {
      await survivor.end();
    }
  });
});
