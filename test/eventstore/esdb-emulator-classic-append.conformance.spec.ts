import { EsdbEventStore } from '@khala/eventstore';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { describeEventStoreConformance } from './support/event-store-conformance';

// The same suite as esdb-emulator.conformance.spec.ts with BatchAppend left out of ServerFeatures
// (as servers before 21.10 did), so the client sends every append through classic Append.
let emulator: EsdbEmulator;
let store: EsdbEventStore;

describeEventStoreConformance('EventStoreDB adapter on the FAKE emulator (classic Append)', {
  async open() {
    emulator = await startEsdbEmulator({ batchAppend: false });
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
    return store;
  },
  async close() {
    await store.close();
    await emulator.stop();
    expect(emulator.appendsServed.classic).toBeGreaterThan(0);
    expect(emulator.appendsServed.batch).toBe(0);
  },
  lateCommitSkipReason:
    'EventStoreDB commits each append at its log position, so no write can commit behind a later one; the race is a Postgres concern',
  serialisedWritersNote: 'the emulator applies appends one at a time, in arrival order, as the server\'s single writer does',
});
