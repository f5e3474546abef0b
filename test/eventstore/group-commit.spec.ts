import { Database } from '@khala/platform';
import { AppendResult, isWrongExpectedVersion, PostgresEventStore, RecordedEvent } from '@khala/eventstore';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';

/**
 * Group commit (migrations/0016, group-commit.ts): appends to different streams that arrive while
 * a group is in flight share the next round trip and commit, and each keeps its own outcome.
 */
describe('Postgres event store group commit', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 4 });
  });
  afterAll(() => db.close());

  it('commits concurrent appends to different streams together, each with its own expectation and outcome', async () => {
    const store = new PostgresEventStore(db, { appendGroupsInFlight: 1 });
    const category = freshCategory();
    const existing = `${category}-existing`;
    await store.append(existing, probeEvents(existing, 1), { expectedRevision: 'no_stream' });

    // The first append goes alone; every other one is submitted while it is in flight.
    const fresh = Array.from({ length: 12 }, (_, index) => `${category}-new${index}`);
    const outcomes = await Promise.allSettled([
      ...fresh.map((stream) => store.append(stream, probeEvents(stream, 2), { expectedRevision: 'no_stream' })),
      store.append(existing, probeEvents(`${existing}-late`, 1), { expectedRevision: 'no_stream' }),
      store.append(existing, probeEvents(`${existing}-next`, 1), { expectedRevision: 0n }),
    ]);

    const results = outcomes.slice(0, fresh.length).map((outcome) => (outcome as PromiseFulfilledResult<AppendResult>).value);
    expect(results.map((result) => result.nextExpectedRevision)).toEqual(fresh.map(() => 1n));
    const wrong = outcomes[fresh.length] as PromiseRejectedResult;
    expect(isWrongExpectedVersion(wrong.reason)).toBe(true);
    expect(wrong.reason).toMatchObject({ details: { actual: 0n } });
    expect((outcomes[fresh.length + 1] as PromiseFulfilledResult<AppendResult>).value.nextExpectedRevision).toBe(1n);

    // Two transactions for fourteen appends: the lone first one and the group of the rest.
    const commits = new Set(results.map((result) => result.position.commit));
    expect(commits.size).toBe(2);
    for (const stream of fresh) expect((await collect(store.readStream(stream))).map((event) => event.revision)).toEqual([0n, 1n]);
    expect((await collect(store.readStream(existing))).map((event) => event.revision)).toEqual([0n, 1n]);
  });

  it('keeps one member\'s failure its own: a reused event id fails that append only', async () => {
    const store = new PostgresEventStore(db, { appendGroupsInFlight: 1 });
    const category = freshCategory();
    const taken = probeEvents(`${category}-owner`, 1);
    await store.append(`${category}-owner`, taken, { expectedRevision: 'no_stream' });

    const blocker = store.append(`${category}-blocker`, probeEvents(`${category}-blocker`, 1), { expectedRevision: 'no_stream' });
    const members = ['a', 'b', 'c'].map((key) => `${category}-${key}`);
    const [a, thief, c] = await Promise.allSettled([
      store.append(members[0], probeEvents(members[0], 1), { expectedRevision: 'no_stream' }),
      store.append(members[1], [{ ...taken[0] }], { expectedRevision: 'no_stream' }),
      store.append(members[2], probeEvents(members[2], 1), { expectedRevision: 'no_stream' }),
    ]);
    await blocker;
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(thief.status).toBe('rejected');
    expect(isWrongExpectedVersion((thief as PromiseRejectedResult).reason)).toBe(true);
    await expect(collect(store.readStream(members[1]))).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
  });
});

describeWithConcurrentPostgres('Postgres event store group commit across processes', () => {
  let databases: Database[];
  beforeAll(async () => {
    databases = await Promise.all([connectTestDatabase({ max: 3 }), connectTestDatabase({ max: 3 })]);
  });
  afterAll(() => Promise.all(databases.map((db) => db.close())));

  it('races two instances over shared streams: no deadlock, dense revisions, every acknowledged event once, in stream order', async () => {
    const stores = databases.map((db) => new PostgresEventStore(db, { appendGroupsInFlight: 2 }));
    const category = freshCategory();
    const streams = Array.from({ length: 6 }, (_, index) => `${category}-${index}`);
    const acknowledged = new Map<string, string[]>(streams.map((stream) => [stream, []]));
    const known = new Map<string, bigint>();

    // 24 writers, each appending 15 events one at a time to streams picked in a shuffled order,
    // with the revision it last saw: conflicts are expected and retried from the actual revision.
    await Promise.all(
      Array.from({ length: 24 }, async (_, writer) => {
        const store = stores[writer % 2];
        for (let step = 0; step < 15; step++) {
          const stream = streams[(writer * 7 + step * 5) % streams.length];
          const event = probeEvents(`${stream}-${writer}-${step}`, 1)[0];
          for (;;) {
            const expected = known.get(stream);
            try {
              const result = await store.append(stream, [event], { expectedRevision: expected ?? 'no_stream' });
              known.set(stream, result.nextExpectedRevision);
              acknowledged.get(stream)!.push(event.id);
              break;
            } catch (error) {
              if (!isWrongExpectedVersion(error)) throw error;
              const { actual } = error.details as { actual: bigint | 'no_stream' };
              if (actual !== 'no_stream') known.set(stream, actual);
            }
          }
        }
      }),
    );

    const all: RecordedEvent[] = (await collect(stores[0].readAll())).filter((event) => event.stream.startsWith(`${category}-`));
    expect(all).toHaveLength(24 * 15);
    for (const stream of streams) {
      const events = await collect(stores[1].readStream(stream));
      expect(events.map((event) => event.revision)).toEqual(events.map((_, index) => BigInt(index)));
      expect(new Set(events.map((event) => event.id))).toEqual(new Set(acknowledged.get(stream)));
      // $all (commit order) lists each stream's events in revision order.
      expect(all.filter((event) => event.stream === stream).map((event) => event.id)).toEqual(events.map((event) => event.id));
    }
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
  }, 120_000);
});
