import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { appendJournalBatch, encodeDocument, MAX_INLINE_PAYLOAD_BYTES, ProjectorRunner } from '@khala/projections';
import { connectTestDatabase, isPgliteRun } from '../support/test-database';
import { freshIdentity } from '../support/system';
import {
  appendRun,
  Categories,
  event,
  eventually,
  expectDense,
  isolatedCategories,
  isolatedProjections,
  journalOf,
  runCreated,
  runnersFor,
} from './support/projection-fixtures';

describe('journal encoding', () => {
  it('hashes documents exactly as the published payload hash vectors say', () => {
    const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/khala_payload_hash_vectors.v1.json'), 'utf8')) as {
      vectors: { name: string; payload: unknown; canonical_json: string; sha256: string }[];
    };
    expect(fixture.vectors.length).toBeGreaterThan(0);
    for (const vector of fixture.vectors) {
      const encoded = encodeDocument(vector.payload);
      expect({ name: vector.name, text: encoded.text, hash: encoded.hash }).toEqual({
        name: vector.name,
        text: vector.canonical_json,
        hash: vector.sha256,
      });
    }
  });
});

describe('projections over the event store (one runner per projection)', () => {
  let db: Database;
  let store: PostgresEventStore;
  let categories: Categories;
  let runners: ProjectorRunner[];

  beforeAll(async () => {
    // PGlite's socket server interleaves extended-protocol messages of concurrent connections
    // outside transactions (an unnamed statement of one can be bound by another), so this
    // process talks to it over one connection; real Postgres gets a pool.
    db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 6 });
    store = new PostgresEventStore(db, { pollIntervalMs: 50 });
    categories = isolatedCategories();
    runners = runnersFor(store, db, isolatedProjections(categories));
    for (const runner of runners) runner.start();
  });
  afterAll(async () => {
    await Promise.all(runners.map((runner) => runner.stop()));
    await db.close();
  });

  it('writes summaries and per-event documents with dense per-(topic, org) and per-run watermarks', async () => {
    const { orgId } = freshIdentity();
    const runA = `run_${Math.random().toString(36).slice(2, 10)}`;
    const runB = `run_${Math.random().toString(36).slice(2, 10)}`;
    await appendRun(store, categories.runStream(runA), runA, orgId, 3);
    await appendRun(store, categories.runStream(runB), runB, orgId, 2);

    const events = await eventually(() => journalOf(db, 'runtime.run_events', orgId), (rows) => rows.length === 6 + 5, 'run events journal');
    expectDense(events);
    for (const [run, count] of [
      [runA, 6],
      [runB, 5],
    ] as const) {
      const own = await journalOf(db, `run:${run}:events`, orgId);
      expectDense(own);
      expect(own.map((row) => row.doc_key)).toEqual(Array.from({ length: count }, (_, i) => `run_event:${run}:${i + 1}`));
      // The same documents, in the same order, as on the org's class topic.
      expect(own.map((row) => row.payload_hash)).toEqual(events.filter((row) => row.doc_key.startsWith(`run_event:${run}:`)).map((row) => row.payload_hash));
    }

    const summaries = await eventually(
      () => db.query<{ run_id: string; document: { status: string; frame_count: number }; doc_version: string; watermark: string }>(
        'SELECT run_id, document, doc_version, watermark FROM runtime.run_summaries WHERE org_id = $1 ORDER BY run_id',
        [orgId],
      ),
      (result) => result.rows.length === 2 && result.rows.every((row) => row.document.status === 'succeeded'),
      'both summaries succeeded',
    );
    const journal = await journalOf(db, 'runtime.run_summaries', orgId);
    expectDense(journal);
    for (const row of summaries.rows) {
      const versions = journal.filter((entry) => entry.doc_key === `run_summary:${row.run_id}`);
      const last = versions[versions.length - 1];
      // The read model holds exactly the last journaled version, at its watermark.
      expect(Number(row.watermark)).toBe(last.watermark);
      expect(Number(row.doc_version)).toBe(last.doc_version);
      expect(JSON.parse(last.payload!)).toEqual(row.document);
      expect(versions.map((entry) => entry.doc_version)).toEqual([...versions.map((entry) => entry.doc_version)].sort((a, b) => a - b));
    }
  });

  it('writes no summary journal row for an event that leaves the document unchanged', async () => {
    const { orgId } = freshIdentity();
    const runId = `run_${Math.random().toString(36).slice(2, 10)}`;
    const stream = categories.runStream(runId);
    await appendRun(store, stream, runId, orgId, 1);
    const before = await eventually(
      () => journalOf(db, 'runtime.run_summaries', orgId),
      (rows) => rows.some((row) => row.payload !== null && JSON.parse(row.payload).status === 'succeeded'),
      'succeeded summary',
    );
    // A cancel request on a finished run changes nothing in its summary (but is still a run event).
    await store.append(stream, [event('RunCancelRequested', { run_id: runId, org_id: orgId, actor_user_id: 'u', occurred_at: new Date().toISOString() })], {
      expectedRevision: 'stream_exists',
    });
    await eventually(() => journalOf(db, `run:${runId}:events`, orgId), (rows) => rows.length === 5, 'the cancel request as a run event');
    await eventually(() => Promise.resolve(runners.every((runner) => runner.state === 'live')), Boolean, 'runners live');
    // The run events projection committed the event; the summary projection had its chance too.
    await eventually(
      async () => (await db.query<{ n: string }>(`SELECT count(*) AS n FROM runtime.projection_checkpoints WHERE projection = $1 AND commit_position > 0`, [runners[0].projection.name])).rows[0].n,
      (n) => n === '1',
      'summary checkpoint',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await journalOf(db, 'runtime.run_summaries', orgId)).toEqual(before);
  });

  it('sends documents over 256 KiB to the journal in pointer mode, with their hash', async () => {
    const { orgId } = freshIdentity();
    const runId = `run_${Math.random().toString(36).slice(2, 10)}`;
    const stream = categories.runStream(runId);
    const big = 'x'.repeat(MAX_INLINE_PAYLOAD_BYTES + 10);
    await store.append(stream, [runCreated(runId, orgId)].map((e) => ({ ...e, data: { ...e.data, metadata: { big } } })), {
      expectedRevision: 'no_stream',
    });
    const rows = await eventually(() => journalOf(db, `run:${runId}:events`, orgId), (r) => r.length === 1, 'big run event');
    expect(rows[0]).toMatchObject({ payload: null, hydration_required: true, doc_key: `run_event:${runId}:1` });
    const stored = await db.query<{ document: unknown }>('SELECT document FROM runtime.run_events WHERE run_id = $1', [runId]);
    expect(rows[0].payload_hash).toBe(encodeDocument(stored.rows[0].document).hash);
    const summary = await eventually(() => journalOf(db, 'runtime.run_summaries', orgId), (r) => r.length === 1, 'big summary');
    expect(summary[0]).toMatchObject({ payload: null, hydration_required: true });
  });

  it('projects codex workers: summary per worker, events without heartbeats', async () => {
    const { orgId } = freshIdentity();
    const workerId = `wrk_${Math.random().toString(36).slice(2, 10)}`;
    const stream = categories.workerStream(workerId);
    const at = () => new Date().toISOString();
    const base = { worker_id: workerId, org_id: orgId, actor_user_id: 'u' };
    let revision: bigint | 'no_stream' = 'no_stream';
    for (const e of [
      event('CodexWorkerStarted', { ...base, occurred_at: at(), workspace_ref: 'ws-1', adapter: 'codex' }),
      event('CodexWorkerEventRecorded', { ...base, occurred_at: at(), event_type: 'worker.ready', payload: {} }),
      event('CodexWorkerHeartbeatRecorded', { ...base, occurred_at: at() }),
      event('CodexWorkerStopRequested', { ...base, occurred_at: at(), reason: 'done' }),
      event('CodexWorkerStopped', { ...base, occurred_at: at() }),
    ]) {
      revision = (await store.append(stream, [e], { expectedRevision: revision })).nextExpectedRevision;
    }
    const summary = await eventually(
      () => db.query<{ document: Record<string, unknown> }>('SELECT document FROM runtime.codex_worker_summaries WHERE worker_id = $1', [workerId]),
      (r) => r.rows[0]?.document.status === 'stopped',
      'stopped worker summary',
    );
    expect(summary.rows[0].document).toMatchObject({ org_id: orgId, event_count: 1, last_event_type: 'worker.ready', stop_reason: 'done', workspace_ref: 'ws-1' });
    expect(summary.rows[0].document.last_heartbeat_at).toEqual(expect.any(String));
    const own = await eventually(() => journalOf(db, `worker:${workerId}:events`, orgId), (r) => r.length === 4, 'worker events');
    expectDense(own);
    expect(own.map((row) => row.doc_key)).toEqual([1, 2, 4, 5].map((seq) => `codex_worker_event:${workerId}:${seq}`));
    expectDense(await journalOf(db, 'runtime.codex_worker_summaries', orgId));
  });
});

describe('watermark allocation', () => {
  it('reserves consecutive ranges per (topic, org) and assigns them in input order', async () => {
    const db = await connectTestDatabase({ max: 2 });
    try {
      const { orgId } = freshIdentity();
      const other = freshIdentity().orgId;
      const encoded = encodeDocument({ a: 1 });
      const row = (topic: string, org: string, key: string) => ({ topic, orgId: org, docKey: key, docVersion: 1, encoded });
      const first = await db.transaction((tx) =>
        appendJournalBatch(tx, [row('runtime.run_events', orgId, 'a'), row('runtime.run_events', other, 'b'), row('runtime.run_events', orgId, 'c')]),
      );
      expect(first).toEqual([1, 1, 2]);
      // A rolled-back allocation consumes nothing.
      await expect(
        db.transaction(async (tx) => {
          await appendJournalBatch(tx, [row('runtime.run_events', orgId, 'x')]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const second = await db.transaction((tx) => appendJournalBatch(tx, [row('runtime.run_events', orgId, 'd')]));
      expect(second).toEqual([3]);
      expect((await journalOf(db, 'runtime.run_events', orgId)).map((r) => r.doc_key)).toEqual(['a', 'c', 'd']);
    } finally {
      await db.close();
    }
  });
});
