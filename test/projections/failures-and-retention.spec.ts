import { randomUUID } from 'node:crypto';
import { PostgresEventStore, RecordedEvent } from '@khala/eventstore';
import { Database, Queryable } from '@khala/platform';
import { appendJournalBatch, encodeDocument, listFailures, markSkipped, Projection, ProjectorRunner, readAsStored, runRetention } from '@khala/projections';
import { RawPhoenixClient } from '../support/phoenix-client';
import { connectTestDatabase, isPgliteRun } from '../support/test-database';
import { freshIdentity } from '../support/system';
import { socketUrl, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import {
  event,
  eventually,
  expectDense,
  isolatedCategories,
  isolatedProjections,
  journalOf,
  runCreated,
  runFrame,
  runnersFor,
  silentLogger,
} from './support/projection-fixtures';

let db: Database;
beforeAll(async () => {
  // One connection on PGlite: its socket server interleaves concurrent connections' statements.
  db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 6 });
});
afterAll(() => db.close());

describe('poison events', () => {
  it("are retried, parked in projection_failures, and a 'continue' projection projects the rest of the batch", async () => {
    const store = new PostgresEventStore(db, { pollIntervalMs: 50 });
    const categories = isolatedCategories();
    const { orgId } = freshIdentity();
    const [good1, poison, good2] = ['good1', 'poison', 'good2'].map((name) => `${name}_${randomUUID().slice(0, 6)}`);
    // All appended before the runners start: one catch-up batch holds the poison in its middle.
    await store.append(categories.runStream(good1), [runCreated(good1, orgId), runFrame(good1, orgId, 'RunStarted')], { expectedRevision: 'no_stream' });
    const bad = event('RunCreated', { run_id: poison, actor_user_id: 'u', occurred_at: new Date().toISOString() }); // no org_id
    await store.append(categories.runStream(poison), [bad], { expectedRevision: 'no_stream' });
    await store.append(categories.runStream(good2), [runCreated(good2, orgId), runFrame(good2, orgId, 'RunStarted')], { expectedRevision: 'no_stream' });

    const projections = isolatedProjections(categories).slice(0, 2); // run summaries, run events
    const runners = runnersFor(store, db, projections, { retryBaseMs: 1 });
    for (const runner of runners) runner.start();
    try {
      const events = await eventually(() => journalOf(db, 'runtime.run_events', orgId), (rows) => rows.length === 4, 'the four good run events');
      expectDense(events);
      expect(events.map((row) => row.doc_key)).toEqual([`run_event:${good1}:1`, `run_event:${good1}:2`, `run_event:${good2}:1`, `run_event:${good2}:2`]);
      const summaries = await eventually(() => journalOf(db, 'runtime.run_summaries', orgId), (rows) => rows.length === 2, 'two summaries');
      expectDense(summaries);
      for (const projection of projections) {
        const parked = await eventually(() => listFailures(db, projection.name), (rows) => rows.length === 1, `${projection.name} parked failure`);
        expect(parked[0]).toMatchObject({ event_id: bad.id, stream_id: categories.runStream(poison), revision: 0, event_type: 'RunCreated', status: 'parked' });
        expect(parked[0].error).toMatch(/org_id/);
        expect(parked[0].attempts).toBeGreaterThanOrEqual(1);
      }
      expect(runners.map((runner) => runner.state)).toEqual(['live', 'live']);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
    }
  });

  it("halts a 'stop' projection on the poison event until an operator skips it", async () => {
    const store = new PostgresEventStore(db, { pollIntervalMs: 50 });
    const categories = isolatedCategories();
    const applied: string[] = [];
    const projection: Projection = {
      name: `t_${categories.tag}_strict`,
      version: 1,
      filter: { streamPrefixes: [`${categories.run}-`] },
      failurePolicy: 'stop',
      readEvent: readAsStored, // its event types are made up: the fold's own failure is under test
      async project(_tx: Queryable, events: readonly RecordedEvent[]) {
        if (events.some((e) => e.type === 'Unprojectable')) throw new Error('cannot apply Unprojectable');
        applied.push(...events.map((e) => e.type));
      },
    };
    const stream = categories.runStream('r1');
    const poison = event('Unprojectable', {});
    await store.append(stream, [event('First', {}), poison, event('Last', {})], { expectedRevision: 'no_stream' });
    const first = new ProjectorRunner(store, db, projection, silentLogger, { retryBaseMs: 1, statsEveryMs: 0 });
    first.start();
    await eventually(() => Promise.resolve(first.state), (state) => state === 'failed', 'the runner halts');
    await first.stop();
    expect(applied).toEqual(['First']);
    const parked = await listFailures(db, projection.name);
    expect(parked).toMatchObject([{ event_id: poison.id, status: 'parked' }]);

    expect(await markSkipped(db, projection.name, poison.id)).toBe(true);
    const second = new ProjectorRunner(store, db, projection, silentLogger, { retryBaseMs: 1, statsEveryMs: 0 });
    second.start();
    try {
      await eventually(() => Promise.resolve(applied), (list) => list.includes('Last'), 'the event after the skipped one');
      expect(applied).toEqual(['First', 'Last']);
      expect(await listFailures(db, projection.name, 'skipped')).toMatchObject([{ event_id: poison.id }]);
    } finally {
      await second.stop();
    }
  });
});

describe('journal retention', () => {
  async function writeJournal(topic: string, orgId: string, n: number): Promise<void> {
    await db.transaction((tx) =>
      appendJournalBatch(
        tx,
        Array.from({ length: n }, (_, i) => ({ topic, orgId, docKey: `doc:${i}`, docVersion: 1, encoded: encodeDocument({ i }) })),
      ),
    );
  }
  const age = (topic: string, orgId: string, upTo: number, interval: string) =>
    db.query(`UPDATE khala.journal SET committed_at = now() - $4::interval WHERE topic = $1 AND org_id = $2 AND watermark <= $3`, [topic, orgId, upTo, interval]);
  const floor = async (topic: string, orgId: string) =>
    (await db.query<{ retained_from: string; head_watermark: string }>('SELECT retained_from, head_watermark FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2', [topic, orgId])).rows[0];

  it('deletes rows past the topic retention in bounded batches and advances retained_from in the same transaction', async () => {
    const { orgId } = freshIdentity();
    const runTopic = `run:${randomUUID()}:events`;
    await writeJournal('runtime.run_events', orgId, 7);
    await writeJournal('runtime.run_summaries', orgId, 3);
    await writeJournal(runTopic, orgId, 4);
    await age('runtime.run_events', orgId, 5, '25 hours'); // retention 1 day: rows 1..5 expire
    await age('runtime.run_summaries', orgId, 3, '25 hours'); // retention 7 days: nothing expires
    await age(runTopic, orgId, 4, '2 days'); // entity topic class run:*:events, 1 day: all expire

    const report = await runRetention(db, { batchSize: 2 });
    expect((await journalOf(db, 'runtime.run_events', orgId)).map((row) => row.watermark)).toEqual([6, 7]);
    expect(await floor('runtime.run_events', orgId)).toEqual({ retained_from: '6', head_watermark: '7' });
    expect((await journalOf(db, 'runtime.run_summaries', orgId)).map((row) => row.watermark)).toEqual([1, 2, 3]);
    expect(await floor('runtime.run_summaries', orgId)).toEqual({ retained_from: '1', head_watermark: '3' });
    // Every row of the entity topic is gone; the durable floor still says where it stood.
    expect(await journalOf(db, runTopic, orgId)).toEqual([]);
    expect(await floor(runTopic, orgId)).toEqual({ retained_from: '5', head_watermark: '4' });
    const entityReport = report.find((entry) => entry.topic_class === 'run:*:events')!;
    expect(entityReport.advanced).toContainEqual({ topic: runTopic, org_id: orgId, retained_from: 5, head_watermark: 4 });
    expect(report.find((entry) => entry.topic_class === 'runtime.run_events')!.deleted).toBeGreaterThanOrEqual(5);
  });

  describe('through the gateway', () => {
    let gateway: TestGateway;
    beforeAll(async () => {
      gateway = await startGateway();
    });
    afterAll(() => gateway.stop());

    it('makes an old cursor stale by retained_from even when every row of the topic was deleted', async () => {
      const identity = freshIdentity();
      await writeJournal('runtime.run_events', identity.orgId, 4);
      await age('runtime.run_events', identity.orgId, 4, '2 days');
      await runRetention(db);
      expect(await journalOf(db, 'runtime.run_events', identity.orgId)).toEqual([]);

      const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity)));
      try {
        await client.reply(client.send('sync:v1', 'phx_join', {}));
        const stale = await client.reply(client.send('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events'], resume_after: { 'runtime.run_events': 2 } }));
        expect(stale[4]).toMatchObject({ status: 'error', response: { code: 'stale_cursor', reason_codes: ['retention_floor_breach'] } });
        // A cursor at the head lost nothing and resumes.
        const fresh = await client.reply(client.send('sync:v1', 'sync:subscribe', { topics: ['runtime.run_events'], resume_after: { 'runtime.run_events': 4 } }));
        expect(fresh[4]).toMatchObject({ status: 'ok' });
      } finally {
        await client.close();
      }
    });
  });
});
