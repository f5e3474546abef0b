import { EventStoreDBClient, Position, START, streamNameFilter } from '@eventstore/db-client';
import { comparePositions, EsdbEventStore, SubscriptionMessage } from '@khala/eventstore';
import { EsdbEmulatorOptions, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { SUBSCRIPTION_HIGH_WATER_MARK } from '../../libs/eventstore/src/esdb/esdb-subscription';
import { freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';
import { disposeBareClient } from './support/emulator-harness';

/**
 * Filtered $all subscriptions as real servers send them (reproduced by the FAKE emulator, test
 * support only; sources in test/esdb-emulator/README.md), and what the adapter passes on: never a
 * checkpoint a consumer could resume from and skip an event.
 */
describe('EventStoreDB subscriptions: checkpoints as servers send them (FAKE emulator)', () => {
  const opened: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const resource of opened.splice(0).reverse()) await resource.stop();
  });

  async function open(options: EsdbEmulatorOptions = {}) {
    const emulator = await startEsdbEmulator(options);
    const store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
    const client = EventStoreDBClient.connectionString(emulator.connectionString);
    opened.push(emulator, {
      async stop() {
        await store.close();
        await disposeBareClient(client);
      },
    });
    return { emulator, store, client };
  }

  /** What the bare client hears (events and checkpoints in arrival order), from the start of $all. */
  function rawSubscribe(client: EventStoreDBClient, prefix: string) {
    const messages: RawMessage[] = [];
    const subscription = client.subscribeToAll({
      fromPosition: START,
      filter: streamNameFilter({
        prefixes: [prefix],
        checkpointInterval: 1,
        checkpointReached: (_subscription, position) => void messages.push({ kind: 'checkpoint', position }),
      }),
    });
    subscription.on('caughtUp', () => messages.push({ kind: 'caughtUp' }));
    subscription.on('data', (resolved: { event?: { position?: Position } }) => messages.push({ kind: 'event', position: resolved.event!.position! }));
    opened.push({ stop: () => subscription.unsubscribe() });
    return {
      messages,
      async until(condition: () => boolean, what: string) {
        const limit = Date.now() + 10_000;
        while (!condition()) {
          if (Date.now() > limit) throw new Error(`bare subscription never saw ${what}: ${JSON.stringify(messages.map((message) => message.kind))}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
    };
  }

  async function appendNoise(store: EsdbEventStore, stream: string, count: number, first = 0n) {
    for (let sent = 0; sent < count; sent += 100) {
      const size = Math.min(100, count - sent);
      await store.append(stream, probeEvents(`${stream}/${sent}`, size), { expectedRevision: first + BigInt(sent) - 1n < 0n ? 'no_stream' : first + BigInt(sent) - 1n });
    }
  }

  it('sends no checkpoint on the way to live (KurrentDB #4023): catch-up is events, then caughtUp', async () => {
    const { store, client } = await open();
    const category = freshCategory();
    await appendNoise(store, `${category}-noise`, 10);
    await store.append(`${category}-match`, probeEvents(`${category}-match`, 1), { expectedRevision: 'no_stream' });
    const raw = rawSubscribe(client, `${category}-match`);
    await raw.until(() => raw.messages.some((message) => message.kind === 'caughtUp'), 'caughtUp');
    expect(raw.messages.map((message) => message.kind)).toEqual(['event', 'caughtUp']);
  });

  it('passes on only advancing checkpoints when a live server repeats one position (KurrentDB #3697)', async () => {
    const { store, client } = await open({ subscriptionQuirks: { staleLiveCheckpoints: true } });
    const category = freshCategory();
    await appendNoise(store, `${category}-noise`, 40);
    const subscriber = new SubscriptionCollector(store.subscribeToAll({ filter: { streamPrefixes: [`${category}-match`] }, checkpointInterval: 32 }));
    const raw = rawSubscribe(client, `${category}-match`);
    try {
      await subscriber.untilCaughtUp();
      await raw.until(() => raw.messages.some((message) => message.kind === 'caughtUp'), 'caughtUp');
      await appendNoise(store, `${category}-noise`, 200, 40n);
      const matched = probeEvents(`${category}-match`, 1);
      await store.append(`${category}-match`, matched, { expectedRevision: 'no_stream' });
      await subscriber.untilEvents([matched[0].id]);
      await raw.until(() => raw.messages.some((message) => message.kind === 'event'), 'the matching event');
      // The quirk is live: the bare client hears one position again and again.
      const rawCheckpoints = raw.messages.flatMap((message) => (message.kind === 'checkpoint' ? [message.position.commit] : []));
      expect(new Set(rawCheckpoints).size).toBeLessThan(rawCheckpoints.length);

      const checkpoints = checkpointsOf(subscriber.messages);
      expect(checkpoints.length).toBeGreaterThan(0);
      for (let index = 1; index < checkpoints.length; index++) expect(comparePositions(checkpoints[index], checkpoints[index - 1])).toBeGreaterThan(0);
    } finally {
      await subscriber.close();
    }
  });

  it('never passes on a checkpoint naming an event not yet delivered (KurrentDB #4975/#4990); resuming from any checkpoint passed on still delivers it', async () => {
    // Without links, so the records scanned before the matching event can be counted.
    const { emulator, store, client } = await open({ subscriptionQuirks: { checkpointAtNextEvent: true }, categoryLinks: false });
    const category = freshCategory();
    // Every 32 scanned records make a checkpoint due (window 32); the record after the 32nd matches.
    const noise = 32 - (emulator.log.size() % 32);
    await appendNoise(store, `${category}-noise`, noise);
    const matched = probeEvents(`${category}-match`, 1);
    await store.append(`${category}-match`, matched, { expectedRevision: 'no_stream' });
    await appendNoise(store, `${category}-noise`, 40, BigInt(noise));

    // The quirk is live: the bare client hears a checkpoint at the matching event's position, before it.
    const raw = rawSubscribe(client, `${category}-match`);
    await raw.until(() => raw.messages.some((message) => message.kind === 'caughtUp'), 'caughtUp');
    const rawEventAt = raw.messages.findIndex((message) => message.kind === 'event');
    const eventPosition = (raw.messages[rawEventAt] as { position: Position }).position;
    expect(raw.messages.slice(0, rawEventAt)).toContainEqual({ kind: 'checkpoint', position: eventPosition });

    const filter = { streamPrefixes: [`${category}-match`] };
    const subscriber = new SubscriptionCollector(store.subscribeToAll({ filter, checkpointInterval: 32 }));
    try {
      await subscriber.untilCaughtUp();
      expect(subscriber.eventIds()).toEqual([matched[0].id]);
      const delivered = subscriber.events()[0].position;
      const before = subscriber.messages.slice(0, subscriber.messages.findIndex((message) => message.kind === 'event'));
      for (const checkpoint of checkpointsOf(before)) expect(comparePositions(checkpoint, delivered)).toBeLessThan(0);
      // A consumer that stored any checkpoint passed on and resumed from it gets the event.
      for (const checkpoint of checkpointsOf(before)) {
        const resumed = new SubscriptionCollector(store.subscribeToAll({ fromPosition: checkpoint, filter }));
        try {
          await resumed.untilCaughtUp();
          expect(resumed.eventIds()).toEqual([matched[0].id]);
        } finally {
          await resumed.close();
        }
      }
    } finally {
      await subscriber.close();
    }
  });

  it('holds a bounded number of messages for a consumer that does not read (catch-up stops at the high-water mark)', async () => {
    const { store } = await open();
    const category = freshCategory();
    await appendNoise(store, `${category}-1`, 4_000);
    const subscription = store.subscribeToAll({ filter: { streamPrefixes: [`${category}-`] } });
    const iterator = subscription[Symbol.asyncIterator]();
    try {
      const first = await iterator.next();
      expect(first.value).toMatchObject({ kind: 'event' });
      // Wait until the adapter stops taking more (an unbounded one takes all 4,000), boundedly.
      const buffered = () => (subscription as unknown as { buffered(): number }).buffered();
      const giveUpAt = Date.now() + 10_000;
      for (let previous = -1; buffered() !== previous && buffered() < 3_999 && Date.now() < giveUpAt; ) {
        previous = buffered();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(buffered()).toBeGreaterThan(0);
      expect(buffered()).toBeLessThanOrEqual(SUBSCRIPTION_HIGH_WATER_MARK + 64);
      // And nothing is lost by pausing: the rest arrives, in order.
      let events = 1;
      while (events < 4_000) {
        const next = await iterator.next();
        if (next.value?.kind === 'event') events += 1;
      }
      expect(events).toBe(4_000);
    } finally {
      await subscription.close();
    }
  });
});

type RawMessage = { kind: 'event'; position: Position } | { kind: 'checkpoint'; position: Position } | { kind: 'caughtUp' };

function checkpointsOf(messages: SubscriptionMessage[]): { commit: bigint; prepare: bigint }[] {
  return messages.flatMap((message) => (message.kind === 'checkpoint' ? [message.position] : []));
}
