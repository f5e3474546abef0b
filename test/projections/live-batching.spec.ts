import { randomUUID } from 'node:crypto';
import { EventStore, PostgresEventStore, Subscription, SubscriptionMessage } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { freshIdentity } from '../support/system';
import { eventually, expectDense, isolatedCategories, isolatedProjections, journalOf, runCreated, runFrame, runnersFor } from './support/projection-fixtures';

/**
 * The real store, with every event its subscriptions hand out recorded (to know what a runner has
 * buffered), and every 'checkpoint' (one per read round that moved the position).
 */
function observedStore(store: PostgresEventStore, delivered: string[]): EventStore {
  const observed = Object.create(store) as PostgresEventStore;
  observed.subscribeToAll = (options) => {
    const subscription = store.subscribeToAll(options);
    const wrapped: Subscription = {
      close: () => subscription.close(),
      [Symbol.asyncIterator]: () => {
        const iterator = subscription[Symbol.asyncIterator]();
        return {
          next: async () => {
            const result = await iterator.next();
            const message = result.done ? undefined : (result.value as SubscriptionMessage);
            if (message?.kind === 'event') delivered.push(message.event.id);
            if (message?.kind === 'checkpoint') delivered.push('checkpoint');
            return result;
          },
          return: async () => (await iterator.return?.()) ?? { done: true, value: undefined },
        };
      },
    };
    return wrapped;
  };
  return observed;
}

describeWithConcurrentPostgres('live batching (real Postgres)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 6 });
  });
  afterAll(() => db.close());

  it('events that arrive while a live batch commits go into the next batch together, not one transaction each', async () => {
    const categories = isolatedCategories();
    const projection = isolatedProjections(categories)[1]; // run events: one journal row per event
    const delivered: string[] = [];
    const store = new PostgresEventStore(db, { pollIntervalMs: 20 });
    const commits: number[] = [];
    // A deep read-ahead, so each append is read in a round of its own (the case where batches stayed at one event).
    const [runner] = runnersFor(observedStore(store, delivered), db, [projection], { liveReadAhead: 1000, onCommit: (info) => info.events && commits.push(info.events) });
    runner.start();
    try {
      const { orgId } = freshIdentity();
      const runId = `run_${randomUUID().slice(0, 8)}`;
      const stream = categories.runStream(runId);
      let revision = (await store.append(stream, [runCreated(runId, orgId)], { expectedRevision: 'no_stream' })).nextExpectedRevision;
      await eventually(() => journalOf(db, 'runtime.run_events', orgId), (rows) => rows.length === 1, 'the first event projected');
      await eventually(() => Promise.resolve(runner.state), (state) => state === 'live', 'the runner live');
      const before = commits.length;

      // Hold the checkpoint row: the next batch blocks in its commit while ten more events are
      // appended one by one, each read by the runner's feed (in a read round of its own) before the next.
      await db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM runtime.projection_checkpoints WHERE projection = $1 FOR UPDATE', [projection.name]);
        for (let i = 0; i < 11; i++) {
          const frame = runFrame(runId, orgId, 'RunTextDelta', { text: `delta ${i}` });
          revision = (await store.append(stream, [frame], { expectedRevision: revision })).nextExpectedRevision;
          await eventually(() => Promise.resolve(delivered.includes(frame.id)), Boolean, `event ${i} read by the runner`);
        }
      });

      const rows = await eventually(() => journalOf(db, 'runtime.run_events', orgId), (found) => found.length === 12, 'all events projected');
      expectDense(rows);
      const after = commits.slice(before);
      expect(after.reduce((sum, events) => sum + events, 0)).toBe(11);
      // The blocked batch (the first delta), then everything that arrived meanwhile in one batch.
      expect(after.length).toBeLessThanOrEqual(2);
    } finally {
      await runner.stop();
    }
  });

  it('while a live batch commits, its feed reads at most one more round: not one read (horizon + page) per append', async () => {
    const categories = isolatedCategories();
    const projection = isolatedProjections(categories)[1];
    const delivered: string[] = [];
    const store = new PostgresEventStore(db, { pollIntervalMs: 20 });
    const commits: number[] = [];
    const [runner] = runnersFor(observedStore(store, delivered), db, [projection], { onCommit: (info) => info.events && commits.push(info.events) });
    runner.start();
    try {
      const { orgId } = freshIdentity();
      const runId = `run_${randomUUID().slice(0, 8)}`;
      const stream = categories.runStream(runId);
      let revision = (await store.append(stream, [runCreated(runId, orgId)], { expectedRevision: 'no_stream' })).nextExpectedRevision;
      await eventually(() => journalOf(db, 'runtime.run_events', orgId), (rows) => rows.length === 1, 'the first event projected');
      await eventually(() => Promise.resolve(runner.state), (state) => state === 'live', 'the runner live');
      const roundsBefore = delivered.filter((item) => item === 'checkpoint').length;

      await db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM runtime.projection_checkpoints WHERE projection = $1 FOR UPDATE', [projection.name]);
        const first = runFrame(runId, orgId, 'RunTextDelta', { text: 'first' });
        revision = (await store.append(stream, [first], { expectedRevision: revision })).nextExpectedRevision;
        await eventually(() => Promise.resolve(delivered.includes(first.id)), Boolean, 'the first delta read by the runner');
        // Ten more appends, each with its NOTIFY, while that batch is blocked in its commit.
        for (let i = 0; i < 10; i++) {
          const frame = runFrame(runId, orgId, 'RunTextDelta', { text: `delta ${i}` });
          revision = (await store.append(stream, [frame], { expectedRevision: revision })).nextExpectedRevision;
          await tx.query('SELECT 1'); // each append is acknowledged and its NOTIFY sent before the next
        }
      });

      const rows = await eventually(() => journalOf(db, 'runtime.run_events', orgId), (found) => found.length === 12, 'all events projected');
      expectDense(rows);
      const rounds = delivered.filter((item) => item === 'checkpoint').length - roundsBefore;
      // The blocked batch's round, at most one read while it was blocked, and the catch-up after it.
      expect(rounds).toBeLessThanOrEqual(4);
    } finally {
      await runner.stop();
    }
  });
});
