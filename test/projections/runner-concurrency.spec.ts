import { randomUUID } from 'node:crypto';
import { PostgresEventStore, Position } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { appendJournalBatch, encodeDocument, NoLease } from '@khala/projections';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { freshIdentity } from '../support/system';
import { appendRun, eventually, expectDense, isolatedCategories, isolatedProjections, journalOf, runnersFor } from './support/projection-fixtures';

/** The run-event doc keys of a category, in the store's commit order (transaction id, position). */
async function storeOrder(db: Database, category: string): Promise<string[]> {
  const { rows } = await db.query<{ run_id: string; revision: string }>(
    `SELECT data->>'run_id' AS run_id, revision FROM eventstore.events WHERE category = $1 ORDER BY transaction_id, position`,
    [category],
  );
  return rows.map((row) => `run_event:${row.run_id}:${Number(row.revision) + 1}`);
}

function expectNoDuplicates(keys: string[]): void {
  expect(new Set(keys).size).toBe(keys.length);
}

describeWithConcurrentPostgres('watermarks under concurrent transactions (real Postgres)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 12 });
  });
  afterAll(() => db.close());

  it('8 concurrent journal writers (a quarter rolling back) leave one dense, duplicate-free sequence', async () => {
    const { orgId } = freshIdentity();
    const topic = 'runtime.run_events';
    const committed: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, writer) =>
        (async () => {
          for (let i = 0; i < 20; i++) {
            const keys = Array.from({ length: 1 + (i % 3) }, (_, k) => `doc:${writer}:${i}:${k}`);
            const rollback = (writer + i) % 4 === 0;
            await db
              .transaction(async (tx) => {
                await appendJournalBatch(
                  tx,
                  keys.map((docKey) => ({ topic, orgId, docKey, docVersion: 1, encoded: encodeDocument({ docKey }) })),
                );
                // Hold the row lock a moment so the others queue behind it.
                await tx.query('SELECT pg_sleep(0.002)');
                if (rollback) throw new Error('rollback');
              })
              .then(() => committed.push(...keys))
              .catch((error: Error) => {
                if (error.message !== 'rollback') throw error;
              });
          }
        })(),
      ),
    );
    const rows = await journalOf(db, topic, orgId);
    expectDense(rows);
    expect(rows.map((row) => row.doc_key).sort()).toEqual([...committed].sort());
    // Keys of one transaction are consecutive: a transaction's range is never interleaved.
    for (const row of rows) {
      const [, writer, i, k] = row.doc_key.split(':');
      if (k !== '0') expect(rows[row.watermark - 2].doc_key).toBe(`doc:${writer}:${i}:${Number(k) - 1}`);
    }
    const head = await db.query<{ head_watermark: string }>('SELECT head_watermark FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2', [topic, orgId]);
    expect(Number(head.rows[0].head_watermark)).toBe(rows.length);
  });

  it("8 writers on one org's runs: the projected journal is gap-free, duplicate-free and in commit order", async () => {
    const store = new PostgresEventStore(db, { pollIntervalMs: 20 });
    const categories = isolatedCategories();
    const runners = runnersFor(store, db, isolatedProjections(categories), { liveBatchSize: 50 });
    for (const runner of runners) runner.start();
    try {
      const { orgId } = freshIdentity();
      const runsPerWriter = 4;
      const deltas = 6; // 9 events per run
      await Promise.all(
        Array.from({ length: 8 }, (_, writer) =>
          (async () => {
            for (let r = 0; r < runsPerWriter; r++) {
              const runId = `run_${writer}_${r}_${randomUUID().slice(0, 6)}`;
              await appendRun(store, categories.runStream(runId), runId, orgId, deltas);
            }
          })(),
        ),
      );
      const total = 8 * runsPerWriter * (deltas + 3);
      const events = await eventually(() => journalOf(db, 'runtime.run_events', orgId), (rows) => rows.length >= total, `${total} run events`);
      expectDense(events);
      expect(events).toHaveLength(total);
      const keys = events.map((row) => row.doc_key);
      expectNoDuplicates(keys);
      expect(keys).toEqual(await storeOrder(db, categories.run));

      const summaries = await eventually(
        () => db.query<{ n: string }>(`SELECT count(*) AS n FROM runtime.run_summaries WHERE org_id = $1 AND document->>'status' = 'succeeded'`, [orgId]),
        (result) => Number(result.rows[0].n) === 8 * runsPerWriter,
        'all summaries succeeded',
      );
      expect(Number(summaries.rows[0].n)).toBe(32);
      const summaryJournal = await journalOf(db, 'runtime.run_summaries', orgId);
      expectDense(summaryJournal);
      // Per document, versions only go up along the watermark order.
      const lastVersion = new Map<string, number>();
      for (const row of summaryJournal) {
        expect(row.doc_version).toBeGreaterThan(lastVersion.get(row.doc_key) ?? 0);
        lastVersion.set(row.doc_key, row.doc_version);
      }
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
    }
  }, 120_000);
});

describeWithConcurrentPostgres('one writer per projection (real Postgres)', () => {
  it('two instances never both write: the standby commits nothing until the leader dies, then takes over', async () => {
    const dbA = await Database.connect({ url: process.env.KHALA_TEST_DATABASE_URL!, max: 6, applicationName: `projA_${randomUUID().slice(0, 6)}` });
    const dbB = await Database.connect({ url: process.env.KHALA_TEST_DATABASE_URL!, max: 6, applicationName: `projB_${randomUUID().slice(0, 6)}` });
    const storeA = new PostgresEventStore(dbA, { pollIntervalMs: 20 });
    const storeB = new PostgresEventStore(dbB, { pollIntervalMs: 20 });
    const categories = isolatedCategories();
    const commits: { instance: 'A' | 'B'; projection: string; position: Position }[] = [];
    const record = (instance: 'A' | 'B') => (info: { projection: string; position: Position }) => commits.push({ instance, ...info });
    const a = runnersFor(storeA, dbA, isolatedProjections(categories), { onCommit: record('A') });
    const b = runnersFor(storeB, dbB, isolatedProjections(categories), { onCommit: record('B') });
    let overlaps = 0;
    const sampler = setInterval(() => {
      // Both believing they lead is allowed only in the instant before the old leader notices;
      // writing is what must never overlap, and the commit log below checks that.
      if (a.some((runner, i) => runner.isLeader && b[i].isLeader)) overlaps += 1;
    }, 5);
    try {
      for (const runner of a) runner.start();
      await eventually(() => Promise.resolve(a.every((runner) => runner.isLeader)), Boolean, 'A leads');
      for (const runner of b) runner.start();
      const { orgId } = freshIdentity();
      for (let i = 0; i < 6; i++) {
        const runId = `run_${i}_${randomUUID().slice(0, 6)}`;
        await appendRun(storeA, categories.runStream(runId), runId, orgId, 3);
      }
      await eventually(() => journalOf(dbA, 'runtime.run_events', orgId), (rows) => rows.length === 36, 'first half projected');
      expect(b.every((runner) => runner.state === 'standby' && !runner.isLeader)).toBe(true);
      expect(commits.filter((commit) => commit.instance === 'B')).toEqual([]);

      // The leader dies the way a crashed process does: its lease session is gone.
      await dbB.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`${dbA.pool.options.application_name}-lease`]);
      // A crashed process does not come back for its leases; A's runners, still alive here, would
      // race B for them every retry and could win some back. Stopping them (their leases are already
      // gone) is the dead process; an in-flight batch of A's still meets the checkpoint fence.
      const aStopped = Promise.all(a.map((runner) => runner.stop()));
      await eventually(() => Promise.resolve(b.every((runner) => runner.isLeader)), Boolean, 'B takes over');
      await aStopped;
      for (let i = 6; i < 12; i++) {
        const runId = `run_${i}_${randomUUID().slice(0, 6)}`;
        await appendRun(storeB, categories.runStream(runId), runId, orgId, 3);
      }
      const events = await eventually(() => journalOf(dbB, 'runtime.run_events', orgId), (rows) => rows.length >= 72, 'second half projected');
      expect(events).toHaveLength(72);
      expectDense(events);
      expect(events.map((row) => row.doc_key)).toEqual(await storeOrder(dbB, categories.run));
      expectDense(await journalOf(dbB, 'runtime.run_summaries', orgId));
      expect(commits.some((commit) => commit.instance === 'B')).toBe(true);
      // Per projection, committed positions strictly increase across both instances: no batch
      // was committed twice, and A wrote nothing after B's first commit.
      for (const name of new Set(commits.map((commit) => commit.projection))) {
        const own = commits.filter((commit) => commit.projection === name);
        for (let i = 1; i < own.length; i++) {
          const [prev, next] = [own[i - 1].position, own[i].position];
          expect(next.commit > prev.commit || (next.commit === prev.commit && next.prepare > prev.prepare)).toBe(true);
        }
        const firstB = own.findIndex((commit) => commit.instance === 'B');
        if (firstB >= 0) expect(own.slice(firstB).every((commit) => commit.instance === 'B')).toBe(true);
      }
      expect(overlaps).toBeLessThan(50);
    } finally {
      clearInterval(sampler);
      await Promise.all([...a, ...b].map((runner) => runner.stop()));
      await dbA.close();
      await dbB.close();
    }
  });

  it('the checkpoint fence stops a second writer that bypasses the lease: nothing is written twice', async () => {
    const dbA = await connectTestDatabase({ max: 6 });
    const dbB = await connectTestDatabase({ max: 6 });
    const categories = isolatedCategories();
    const a = runnersFor(new PostgresEventStore(dbA, { pollIntervalMs: 10 }), dbA, isolatedProjections(categories), { lease: new NoLease(), liveBatchSize: 5 });
    const b = runnersFor(new PostgresEventStore(dbB, { pollIntervalMs: 10 }), dbB, isolatedProjections(categories), { lease: new NoLease(), liveBatchSize: 5 });
    for (const runner of [...a, ...b]) runner.start();
    try {
      const { orgId } = freshIdentity();
      const store = new PostgresEventStore(dbA);
      await Promise.all(
        Array.from({ length: 4 }, async (_, writer) => {
          for (let i = 0; i < 4; i++) {
            const runId = `run_${writer}_${i}_${randomUUID().slice(0, 6)}`;
            await appendRun(store, categories.runStream(runId), runId, orgId, 4);
          }
        }),
      );
      const total = 16 * 7;
      const events = await eventually(() => journalOf(dbA, 'runtime.run_events', orgId), (rows) => rows.length >= total, 'all run events');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const settled = await journalOf(dbA, 'runtime.run_events', orgId);
      expect(settled).toHaveLength(total);
      expectDense(settled);
      expect(settled.map((row) => row.doc_key)).toEqual(await storeOrder(dbA, categories.run));
      expect(events.length).toBe(total);
      // The summaries are another projection, which may still be behind the run events one: wait
      // until every run's summary has folded its last event (RunFinished), then count.
      const docs = await eventually(
        () => dbA.query<{ document: { frame_count: number; status: string } }>(`SELECT document FROM runtime.run_summaries WHERE org_id = $1`, [orgId]),
        ({ rows }) => rows.length === 16 && rows.every((row) => row.document.status === 'succeeded'),
        'every run summary finished',
      );
      expectDense(await journalOf(dbA, 'runtime.run_summaries', orgId));
      // A double-applied batch would count frames twice.
      expect(docs.rows.map((row) => row.document.frame_count)).toEqual(Array(16).fill(6));
      expect([...a, ...b].some((runner) => /checkpoint moved/.test(runner.lastError ?? ''))).toBe(true);
    } finally {
      await Promise.all([...a, ...b].map((runner) => runner.stop()));
      await dbA.close();
      await dbB.close();
    }
  });
});
