import { EventStoreDBClient } from '@eventstore/db-client';
import { EsdbEventStore, EventStoreError } from '@khala/eventstore';
import { EsdbEmulator, EsdbEmulatorOptions, startEsdbEmulator } from '../../esdb-emulator/esdb-emulator';

/**
 * Disposes a bare `@eventstore/db-client` client. dispose() leaves the gRPC channel open (it only
 * cancels the client's calls), which keeps jest's worker alive, so the channel is closed too.
 */
export async function disposeBareClient(client: EventStoreDBClient): Promise<void> {
  await client.dispose();
  (await (client as unknown as { getChannel(): Promise<{ close(): void }> }).getChannel()).close();
}

/**
 * One FAKE emulator for a describe block, with our adapter on it and a bare client beside it (what
 * an operator's tools, or a server's other writers, would use), all stopped after the block.
 */
export function useEmulatorWithAdapterAndClient(options: EsdbEmulatorOptions = {}): {
  readonly emulator: EsdbEmulator;
  readonly store: EsdbEventStore;
  readonly client: EventStoreDBClient;
} {
  const harness = {} as { emulator: EsdbEmulator; store: EsdbEventStore; client: EventStoreDBClient };
  beforeAll(async () => {
    harness.emulator = await startEsdbEmulator(options);
    harness.store = EsdbEventStore.connect(harness.emulator.connectionString, { reconnectDelayMs: 20 });
    harness.client = EventStoreDBClient.connectionString(harness.emulator.connectionString);
  });
  afterAll(async () => {
    await harness.store?.close();
    if (harness.client) await disposeBareClient(harness.client);
    await harness.emulator?.stop();
  });
  return harness;
}

/** The EventStoreError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
export async function refusal(promise: Promise<unknown>): Promise<EventStoreError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EventStoreError);
  return error as EventStoreError;
}
