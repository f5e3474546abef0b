import { ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { NewEvent } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { createRuntimeRunners } from '../../apps/runtime/src/projections/runtime-projections';
import { describeWithConcurrentPostgres } from '../support/test-database';
import { createScratchDatabase, eventually, expectDense, runCreated, runFrame, silentLogger } from './support/projection-fixtures';

const ROOT = join(__dirname, '../..');
const ORGS = ['org_crash_a', 'org_crash_b', 'org_crash_c'];

/** The projector worker (apps/runtime/src/projector-worker.ts) as a real child process. */
async function startWorker(url: string): Promise<ChildProcess> {
  const child = fork(join(ROOT, 'apps/runtime/src/projector-worker.ts'), [], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    env: { ...process.env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'), DATABASE_URL: url, PROJECTOR_BATCH_SIZE: '400', LOG_LEVEL: 'silent', POLL_INTERVAL_MS: '50', PROJECTOR_WORKER_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
  return child;
}

function runEvents(runId: string, orgId: string, deltas: number): NewEvent[] {
  const events = [runCreated(runId, orgId), runFrame(runId, orgId, 'RunStarted')];
  for (let i = 0; i < deltas; i++) events.push(runFrame(runId, orgId, 'RunTextDelta', { text: `delta ${i} of ${runId}` }));
  events.push(runFrame(runId, orgId, 'RunFinished'));
  return events;
}

/** Caught up: every stored run event has its document, and every summary is at its stream's last revision. */
async function caughtUp(db: Database): Promise<boolean> {
  const { rows } = await db.query<{ stored: string; projected: string; runs: string; current: string }>(
    `SELECT (SELECT count(*) FROM eventstore.events WHERE category = 'run') AS stored,
            (SELECT count(*) FROM runtime.run_events) AS projected,
            (SELECT count(*) FROM eventstore.streams WHERE category = 'run') AS runs,
            (SELECT count(*) FROM runtime.run_summaries s JOIN eventstore.streams st ON st.stream_id = 'run-' || s.run_id
              WHERE s.doc_version = st.revision + 1) AS current`,
  );
  const row = rows[0];
  return row.stored === row.projected && row.runs === row.current;
}

async function journal(db: Database, where: string, params: unknown[]) {
  const { rows } = await db.query<{ topic: string; org_id: string; watermark: string; doc_key: string; doc_version: string; payload_hash: string }>(
    `SELECT topic, org_id, watermark, doc_key, doc_version, payload_hash FROM khala.journal WHERE ${where} ORDER BY topic, org_id, watermark`,
    params,
  );
  return rows.map((row) => ({ ...row, watermark: Number(row.watermark), doc_version: Number(row.doc_version) }));
}

describeWithConcurrentPostgres('projector killed mid-batch (SIGKILL) and restarted', () => {
  const adminUrl = process.env.DATABASE_URL!;

  it('loses and duplicates nothing: the journal and read models equal a fresh rebuild', async () => {
    const live = await createScratchDatabase(adminUrl);
    const rebuild = await createScratchDatabase(adminUrl);
    const children: ChildProcess[] = [];
    try {
      // History: 240 runs × 52 events across three orgs, appended a run at a time.
      for (let r = 0; r < 240; r++) {
        const runId = `run_${r}_${randomUUID().slice(0, 6)}`;
        await live.store.append(`run-${runId}`, runEvents(runId, ORGS[r % 3], 49), { expectedRevision: 'no_stream' });
      }
      // Writers keep appending while the worker is killed and restarted.
      let writing = true;
      const writer = (async () => {
        for (let r = 0; writing; r++) {
          const runId = `live_${r}_${randomUUID().slice(0, 6)}`;
          await live.store.append(`run-${runId}`, runEvents(runId, ORGS[r % 3], 3), { expectedRevision: 'no_stream' });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();

      let killedMidBatch = 0;
      for (let round = 0; round < 4; round++) {
        const child = await startWorker(live.url);
        children.push(child);
        // Kill the moment one of its batch transactions has written (it holds an xid) and not yet committed.
        const deadline = Date.now() + 20_000;
        for (;;) {
          const { rows } = await live.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'khala-projector-worker' AND backend_xid IS NOT NULL`,
          );
          if (Number(rows[0].n) > 0) {
            child.kill('SIGKILL');
            killedMidBatch += 1;
            break;
          }
          if (Date.now() > deadline) {
            child.kill('SIGKILL');
            break;
          }
        }
        await new Promise((resolve) => child.once('exit', resolve));
      }
      expect(killedMidBatch).toBeGreaterThanOrEqual(3);
      writing = false;
      await writer;

      children.push(await startWorker(live.url));
      await eventually(() => caughtUp(live.db), Boolean, 'the restarted worker to catch up', 120_000);

      // A fresh rebuild: the same events, in the same order, projected once from scratch, in-process.
      const { rows: events } = await live.db.query<{ event_id: string; stream_id: string; revision: string; event_type: string; data: unknown; metadata: unknown }>(
        `SELECT event_id, stream_id, revision, event_type, data, metadata FROM eventstore.events ORDER BY transaction_id, position`,
      );
      await rebuild.db.transaction(async (tx) => {
        await tx.query(`INSERT INTO eventstore.streams (stream_id, category, revision) SELECT stream_id, category, revision FROM unnest($1::text[], $2::text[], $3::bigint[]) AS s(stream_id, category, revision)`, [
          ...(await live.db.query<{ stream_id: string; category: string; revision: string }>('SELECT stream_id, category, revision FROM eventstore.streams').then(({ rows }) => [
            rows.map((row) => row.stream_id),
            rows.map((row) => row.category),
            rows.map((row) => row.revision),
          ])),
        ]);
        await tx.query(
          `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
           SELECT e.id, e.stream, split_part(e.stream, '-', 1), e.revision, e.type, e.data, e.metadata
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[]) WITH ORDINALITY AS e(id, stream, revision, type, data, metadata, n)
            ORDER BY e.n`,
          [
            events.map((e) => e.event_id),
            events.map((e) => e.stream_id),
            events.map((e) => e.revision),
            events.map((e) => e.event_type),
            events.map((e) => JSON.stringify(e.data)),
            events.map((e) => JSON.stringify(e.metadata)),
          ],
        );
      });
      const runners = createRuntimeRunners(rebuild.store, rebuild.db, silentLogger, { statsEveryMs: 0 });
      for (const runner of runners) runner.start();
      try {
        await eventually(() => caughtUp(rebuild.db), Boolean, 'the rebuild', 120_000);
      } finally {
        await Promise.all(runners.map((runner) => runner.stop()));
      }

      // Per-event topics do not depend on batch boundaries: they must be identical.
      const eventTopics = `(topic = 'runtime.run_events' OR topic LIKE 'run:%:events')`;
      const liveEvents = await journal(live.db, eventTopics, []);
      const rebuiltEvents = await journal(rebuild.db, eventTopics, []);
      expect(liveEvents.length).toBe(events.length * 2);
      expect(liveEvents).toEqual(rebuiltEvents);

      // Read models are identical.
      const readModel = async (db: Database) => ({
        summaries: (await db.query('SELECT run_id, org_id, document, doc_version, payload_hash FROM runtime.run_summaries ORDER BY run_id')).rows,
        events: (await db.query('SELECT run_id, seq, org_id, event_type, payload_hash FROM runtime.run_events ORDER BY run_id, seq')).rows,
      });
      expect(await readModel(live.db)).toEqual(await readModel(rebuild.db));

      // Summary journals may batch versions differently, but each is dense, per document versions
      // only go up, and the last version of every document is the rebuild's.
      for (const orgId of ORGS) {
        const liveSummaries = await journal(live.db, `topic = 'runtime.run_summaries' AND org_id = $1`, [orgId]);
        const rebuiltSummaries = await journal(rebuild.db, `topic = 'runtime.run_summaries' AND org_id = $1`, [orgId]);
        expectDense(liveSummaries);
        const last = (rows: typeof liveSummaries) => {
          const byDoc = new Map<string, { doc_version: number; payload_hash: string }>();
          for (const row of rows) {
            const previous = byDoc.get(row.doc_key);
            expect(row.doc_version).toBeGreaterThan(previous?.doc_version ?? 0);
            byDoc.set(row.doc_key, { doc_version: row.doc_version, payload_hash: row.payload_hash });
          }
          return Object.fromEntries([...byDoc].sort(([a], [b]) => (a < b ? -1 : 1)));
        };
        expect(last(liveSummaries)).toEqual(last(rebuiltSummaries));
      }
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await live.drop();
      await rebuild.drop();
    }
  }, 300_000);
});
