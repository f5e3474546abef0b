import { comparePositions } from '@khala/eventstore';
import { useEmulatorWithAdapterAndClient } from './support/emulator-harness';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';

/**
 * Commit ≠ prepare (FAKE emulator, test support only): the events of one multi-event append share
 * the write's commit position and each has its own prepare position, as a server's implicit
 * transaction gives them. A position is the pair; comparing or resuming by the commit position
 * alone would hear the rest of a write twice or skip it.
 */
describe('EventStoreDB adapter with commit ≠ prepare positions (FAKE emulator)', () => {
  const esdb = useEmulatorWithAdapterAndClient();

  it('one write: one commit position, rising prepare positions; the append answers the last event', async () => {
    const category = freshCategory();
    const appended = await esdb.store.append(`${category}-1`, probeEvents(`${category}-1`, 3), { expectedRevision: 'no_stream' });
    const events = await collect(esdb.store.readAll({ filter: { streamPrefixes: [`${category}-`] } }));

    expect(events.map((event) => event.position.commit)).toEqual([events[0].position.commit, events[0].position.commit, events[0].position.commit]);
    expect(events[0].position.prepare).toBe(events[0].position.commit);
    expect(events[1].position.prepare > events[0].position.prepare).toBe(true);
    expect(events[2].position.prepare > events[1].position.prepare).toBe(true);
    expect(appended.position).toEqual(events[2].position);
    expect(await esdb.store.headPosition()).toEqual(events[2].position);
  });

  it('reads and subscriptions start after the whole position: from the middle event of a write, only the rest', async () => {
    const category = freshCategory();
    const filter = { streamPrefixes: [`${category}-`] };
    await esdb.store.append(`${category}-1`, probeEvents(`${category}-1`, 3), { expectedRevision: 'no_stream' });
    const [first, second, third] = await collect(esdb.store.readAll({ filter }));

    expect((await collect(esdb.store.readAll({ fromPosition: second.position, filter }))).map((event) => event.id)).toEqual([third.id]);
    expect((await collect(esdb.store.readAll({ fromPosition: second.position, filter, direction: 'backwards' }))).map((event) => event.id)).toEqual([first.id]);

    // The server is asked from the pair too: the bare client, from the middle event, gets it and the last.
    const raw: bigint[] = [];
    for await (const resolved of esdb.client.readAll({ fromPosition: second.position, maxCount: 2 })) raw.push(resolved.event!.position!.prepare);
    expect(raw).toEqual([second.position.prepare, third.position.prepare]);

    const resumed = new SubscriptionCollector(esdb.store.subscribeToAll({ fromPosition: second.position, filter }));
    try {
      await resumed.untilCaughtUp();
      expect(resumed.eventIds()).toEqual([third.id]);
    } finally {
      await resumed.close();
    }
  });

  it('a subscription dropped in the middle of a write resumes from the pair: the rest once, nothing twice', async () => {
    const category = freshCategory();
    const filter = { streamPrefixes: [`${category}-`] };
    const before = await esdb.store.headPosition();
    const subscription = new SubscriptionCollector(esdb.store.subscribeToAll({ fromPosition: before, filter }));
    try {
      await subscription.untilCaughtUp();
      await esdb.store.append(`${category}-1`, probeEvents(`${category}-1`, 4), { expectedRevision: 'no_stream' });
      await subscription.until(() => subscription.events().length >= 2, 'two events of the write');
      esdb.emulator.faults.dropSubscriptions();
      await esdb.store.append(`${category}-2`, probeEvents(`${category}-2`, 1), { expectedRevision: 'no_stream' });
      await subscription.until(() => subscription.events().length >= 5, 'the rest of the write and the next one');
      await subscription.until(() => subscription.caughtUpCount() >= 2, 'caughtUp after resubscribing');

      const delivered = subscription.events();
      expect(new Set(delivered.map((event) => event.id)).size).toBe(delivered.length);
      expect(delivered).toHaveLength(5);
      for (let index = 1; index < delivered.length; index++) {
        expect(comparePositions(delivered[index].position, delivered[index - 1].position)).toBeGreaterThan(0);
      }
      expect(new Set(delivered.slice(0, 4).map((event) => event.position.commit)).size).toBe(1);
    } finally {
      await subscription.close();
    }
  });
});
