import { Database } from '@khala/platform';
import { PostgresEventStore } from '@khala/eventstore';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';

/** What only the Postgres adapter promises, beyond the shared conformance suite. */
describe('Postgres event store', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 4 });
  });
  afterAll(() => db.close());

  it('refuses an append that is not the first write of its transaction (a reader may already have passed it)', async () => {
    const store = new PostgresEventStore(db);
    const stream = `${freshCategory()}-1`;
    await expect(
      db.transaction(async (client) => {
        await client.query('CREATE TEMP TABLE IF NOT EXISTS first_write_probe (id int)');
        await client.query('INSERT INTO first_write_probe VALUES (1)');
        await store.appendWithin(client, stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' });
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(collect(store.readStream(stream))).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
  });
});

describeWithConcurrentPostgres('Postgres event store with concurrent sessions', () => {
  let db: Database;
  let other: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 6 });
    other = await connectTestDatabase({ max: 1 });
  });
  afterAll(async () => {
    await db.close();
    await other.close();
  });

  it('wakes a live subscriber through LISTEN/NOTIFY (the poll fallback is set too long to help)', async () => {
    const store = new PostgresEventStore(db, { pollIntervalMs: 600_000 });
    const category = freshCategory();
    const subscriber = new SubscriptionCollector(
      store.subscribeToAll({ fromPosition: (await store.headPosition()) ?? 'start', filter: { streamPrefixes: [`${category}-`] } }),
    );
    try {
      await subscriber.untilCaughtUp();
      const events = probeEvents(`${category}-1`, 1);
      await store.append(`${category}-1`, events, { expectedRevision: 'no_stream' });
      await subscriber.untilEvents([events[0].id]);
    } finally {
      await subscriber.close();
    }
  });

  it('keeps delivering while an unrelated writing transaction stays open', async () => {
    const store = new PostgresEventStore(db, { pollIntervalMs: 50 });
    const category = freshCategory();
    const blocker = await other.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_current_xact_id()');
      const subscriber = new SubscriptionCollector(
        store.subscribeToAll({ fromPosition: (await store.headPosition()) ?? 'start', filter: { streamPrefixes: [`${category}-`] } }),
      );
      try {
        await subscriber.untilCaughtUp();
        const events = probeEvents(`${category}-1`, 2);
        await store.append(`${category}-1`, events, { expectedRevision: 'no_stream' });
        await subscriber.untilEvents(events.map((event) => event.id));
        const read = await collect(store.readAll({ direction: 'backwards', filter: { streamPrefixes: [`${category}-`] } }));
        expect(read.map((event) => event.id)).toEqual(events.map((event) => event.id).reverse());
      } finally {
        await subscriber.close();
      }
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
  });
});
