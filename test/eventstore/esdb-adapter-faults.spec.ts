import { EventStoreDBClient, jsonEvent, UnknownError, WrongExpectedVersionError } from '@eventstore/db-client';
import { EsdbEventStore, EventStoreError } from '@khala/eventstore';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { toPortError } from '../../libs/eventstore/src/esdb/esdb-mapping';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';
import { disposeBareClient } from './support/emulator-harness';

/**
 * The EventStoreDB adapter when the server misbehaves, driven through the FAKE emulator's fault
 * hooks (test support only): dropped subscriptions and acknowledgements that arrive too late.
 */
describe('EventStoreDB adapter under faults (FAKE emulator)', () => {
  let emulator: EsdbEmulator;
  let store: EsdbEventStore;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
  });
  afterAll(async () => {
    await store.close();
    await emulator.stop();
  });

  it('resubscribes from the last delivered position after the server drops the subscription', async () => {
    const category = freshCategory();
    const stream = `${category}-1`;
    await store.append(stream, probeEvents(`${stream}/before`, 3), { expectedRevision: 'no_stream' });
    const subscriber = new SubscriptionCollector(store.subscribeToAll({ filter: { streamPrefixes: [`${category}-`] } }));
    try {
      await subscriber.untilCaughtUp();
      expect(emulator.faults.dropSubscriptions()).toBe(1);
      // Written while the subscription is down: must arrive after the resubscribe, once.
      await store.append(stream, probeEvents(`${stream}/during`, 2), { expectedRevision: 2n });
      await subscriber.until(() => subscriber.caughtUpCount() === 2, 'a second caughtUp after resubscribing');
      await store.append(stream, probeEvents(`${stream}/after`, 1), { expectedRevision: 4n });
      const expected = [...probeEvents(`${stream}/before`, 3), ...probeEvents(`${stream}/during`, 2), ...probeEvents(`${stream}/after`, 1)];
      await subscriber.untilEvents(expected.map((event) => event.id));
      expect(subscriber.eventIds()).toEqual(expected.map((event) => event.id));
      expect(subscriber.events().map((event) => event.revision)).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    } finally {
      await subscriber.close();
    }
  });

  it('reports a late acknowledgement as UNAVAILABLE, and the retry is acknowledged without a second write', async () => {
    const impatient = EsdbEventStore.connect(`${emulator.connectionString}&defaultDeadline=200`);
    try {
      const stream = `${freshCategory()}-1`;
      const events = probeEvents(`${stream}/command`, 2);
      emulator.faults.delayNextAppendAck(1_000);
      const first = await impatient.append(stream, events, { expectedRevision: 'no_stream' }).catch((error: unknown) => error);
      expect(first).toBeInstanceOf(EventStoreError);
      expect((first as EventStoreError).code).toBe('UNAVAILABLE');
      const retried = await impatient.append(stream, events, { expectedRevision: 'no_stream' });
      expect(retried.nextExpectedRevision).toBe(1n);
      expect((await collect(store.readStream(stream))).map((event) => event.id)).toEqual(events.map((event) => event.id));
    } finally {
      await impatient.close();
    }
  });

  it('maps every call to EventStoreError UNAVAILABLE while the server is down (never a raw client error), and works again after', async () => {
    const stream = `${freshCategory()}-1`;
    await store.append(stream, probeEvents(`${stream}/before`, 1), { expectedRevision: 'no_stream' });
    const { port, log } = emulator;
    await emulator.stop();
    try {
      const failures = await Promise.all([
        store.append(stream, probeEvents(`${stream}/down`, 1), { expectedRevision: 0n }).catch((error: unknown) => error),
        collect(store.readStream(stream)).catch((error: unknown) => error),
        collect(store.readAll({ maxCount: 10 })).catch((error: unknown) => error),
        store.headPosition().catch((error: unknown) => error),
      ]);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(EventStoreError);
        expect((failure as EventStoreError).code).toBe('UNAVAILABLE');
      }
    } finally {
      emulator = await startEsdbEmulator({ port, log });
    }
    await store.append(stream, probeEvents(`${stream}/after`, 1), { expectedRevision: 0n });
    expect((await collect(store.readStream(stream))).length).toBe(2);
  }, 60_000);
});

/** The FAKE's own semantics, checked with the bare client so the adapter cannot mask them. */
describe('FAKE EventStoreDB emulator speaks the server semantics the adapter relies on', () => {
  let emulator: EsdbEmulator;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
    client = EventStoreDBClient.connectionString(emulator.connectionString);
  });
  afterAll(async () => {
    await disposeBareClient(client);
    await emulator.stop();
  });

  it('answers WrongExpectedVersion with the current revision, and re-appends with an exact revision idempotently', async () => {
    const stream = `${freshCategory()}-1`;
    const event = jsonEvent({ id: probeEvents(stream, 1)[0].id, type: 'Probe', data: { n: 1 } });
    const written = await client.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
    expect(written.nextExpectedRevision).toBe(0n);
    await expect(client.appendToStream(stream, [event], { expectedRevision: 'no_stream' })).resolves.toMatchObject({
      nextExpectedRevision: 0n,
      position: written.position,
    });
    const conflict = await client
      .appendToStream(stream, [jsonEvent({ type: 'Probe', data: {} })], { expectedRevision: 5n })
      .catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(WrongExpectedVersionError);
    expect((conflict as WrongExpectedVersionError).actualVersion).toBe(0n);
    expect((conflict as WrongExpectedVersionError).expectedVersion).toBe(5n);
  });

  it('reads $all forwards from an event position including it, as the server does (the adapter makes it exclusive)', async () => {
    const stream = `${freshCategory()}-1`;
    const { position } = await client.appendToStream(stream, [jsonEvent({ type: 'Probe', data: {} })]);
    const read = [];
    for await (const resolved of client.readAll({ fromPosition: position!, maxCount: 1 })) read.push(resolved.event?.position);
    expect(read).toEqual([position]);
  });
});

describe('EventStoreDB client errors that mean "the server went away mid-call"', () => {
  // What @eventstore/db-client leaves as UnknownError when a connection dies under a call
  // (RST_STREAM / "Stream removed" → INTERNAL; a channel-cancelled call): retryable, so HTTP 503.
  it.each([
    ['INTERNAL (RST_STREAM)', { code: 13, details: 'Received RST_STREAM with code 2 triggered by internal client error' }],
    ['UNKNOWN', { code: 2, details: 'Stream removed' }],
    ['CANCELLED by the channel', { code: 1, details: 'Call cancelled' }],
  ])('maps an UnknownError wrapping %s to EventStoreError UNAVAILABLE', (_name, raw) => {
    const mapped = toPortError(new UnknownError(raw as never), 'run-1');
    expect(mapped).toBeInstanceOf(EventStoreError);
    expect((mapped as EventStoreError).code).toBe('UNAVAILABLE');
  });

  it('leaves other client errors alone (a real server-side failure stays a 500)', () => {
    const raw = { code: 3, details: 'Invalid argument' };
    expect(toPortError(new UnknownError(raw as never))).toBeInstanceOf(UnknownError);
  });
});
