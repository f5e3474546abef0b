import { CommandExecutor, Decider, DomainEvent, EsdbEventStore, EventStoreError } from '@khala/eventstore';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { freshCategory } from './support/event-store-conformance';

const LIMIT = 64 * 1024;

/** A stream of blobs: each command appends one event carrying `bytes` characters. */
interface Blob extends DomainEvent {
  type: 'BlobAdded';
  data: { text: string };
}
const blobs: Decider<{ bytes: number }, Blob, number> = {
  initialState: () => 0,
  decide: (command) => [{ type: 'BlobAdded', data: { text: 'x'.repeat(command.bytes) } }],
  evolve: (count) => count + 1,
};

/**
 * Commands queued on one stream are appended together; on EventStoreDB an append over
 * `MaxAppendSize` is refused whole (FAKE emulator with a 64 KiB limit, test support only). A batch
 * is cut to fit the store's limit, so commands that each fit are never refused for being queued
 * together.
 */
describe('command batches cut to the EventStoreDB append limit (FAKE emulator)', () => {
  let emulator: EsdbEmulator;
  let store: EsdbEventStore;
  beforeAll(async () => {
    emulator = await startEsdbEmulator({ maxAppendSize: LIMIT });
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20, maxAppendSize: LIMIT });
  });
  afterAll(async () => {
    await store.close();
    await emulator.stop();
  });

  const executor = new CommandExecutor({
    maxAttempts: 3,
    queue: { maxBatchCommands: 64, maxBatchEvents: 1_000 },
    refusal: (violation) => violation,
    conflict: (stream) => new Error(`conflict on ${stream}`),
  });
  const run = (stream: string, bytes: number) => executor.execute(store, stream, blobs, { bytes }, { correlationId: 'c', actor: 'test' });

  it('six commands of 25 KiB sent at once all succeed, in appends that each fit', async () => {
    const stream = `${freshCategory()}-1`;
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => run(stream, 25 * 1024)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(6).fill('fulfilled'));
    const revisions = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<{ revision: bigint }>).value.revision);
    expect([...revisions].sort((a, b) => Number(a - b))).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
  });

  it('a command over the limit alone is refused alone; the others queued with it succeed', async () => {
    const stream = `${freshCategory()}-1`;
    const outcomes = await Promise.allSettled([run(stream, 10 * 1024), run(stream, LIMIT + 1), run(stream, 10 * 1024)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (outcomes[1] as PromiseRejectedResult).reason as EventStoreError;
    expect(refused).toBeInstanceOf(EventStoreError);
    expect(refused.code).toBe('APPEND_TOO_LARGE');
  });
});
