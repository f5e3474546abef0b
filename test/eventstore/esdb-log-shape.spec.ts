import { useEmulatorWithAdapterAndClient } from './support/emulator-harness';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';

/**
 * `$all` as a server's log has it (FAKE emulator, test support only): the server's own `$` records
 * and the `$by_category` projection's link events (`$>` in `$ce-<category>`) sit between ours. The
 * adapter's reads, head and subscriptions never hand them out.
 */
describe('EventStoreDB adapter over a log with system records and links (FAKE emulator)', () => {
  const esdb = useEmulatorWithAdapterAndClient();

  it('the bare client sees $ records and links in $all; the adapter reads, subscribes and reports the head without them', async () => {
    const category = freshCategory();
    const events = probeEvents(`${category}-1`, 3);
    const appended = await esdb.store.append(`${category}-1`, events, { expectedRevision: 'no_stream' });

    const raw: { stream: string; type: string }[] = [];
    for await (const resolved of esdb.client.readAll({ maxCount: 1_000 })) raw.push({ stream: resolved.event!.streamId, type: resolved.event!.type });
    expect(raw).toContainEqual({ stream: '$settings', type: '$settings' });
    expect(raw).toContainEqual({ stream: `$ce-${category}`, type: '$>' });
    // A link is the last record in the log: the head readers get is our last event, not it.
    expect(raw[raw.length - 1]).toEqual({ stream: `$ce-${category}`, type: '$>' });
    expect(await esdb.store.headPosition()).toEqual(appended.position);

    const forwards = await collect(esdb.store.readAll());
    const backwards = await collect(esdb.store.readAll({ direction: 'backwards' }));
    for (const event of [...forwards, ...backwards]) {
      expect(event.stream.startsWith('$')).toBe(false);
      expect(event.type.startsWith('$')).toBe(false);
    }
    expect(forwards.map((event) => event.id)).toEqual(events.map((event) => event.id));

    const everything = new SubscriptionCollector(esdb.store.subscribeToAll());
    const byType = new SubscriptionCollector(esdb.store.subscribeToAll({ filter: { eventTypes: ['ConformanceProbed'] } }));
    try {
      await everything.untilCaughtUp();
      await byType.untilCaughtUp();
      expect(everything.eventIds()).toEqual(events.map((event) => event.id));
      expect(byType.eventIds()).toEqual(events.map((event) => event.id));
    } finally {
      await everything.close();
      await byType.close();
    }
  });
});
