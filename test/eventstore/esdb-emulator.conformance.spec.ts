import { EsdbEventStore } from '@khala/eventstore';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { describeEventStoreConformance } from './support/event-store-conformance';

// Against the FAKE EventStoreDB emulator (test support only), through the real client library
// over a real gRPC connection. What this proves is listed in libs/eventstore/README.md.
// The emulator lists BatchAppend in ServerFeatures, as every current server does, so the client
// sends every append through it; esdb-emulator-classic-append.conformance.spec.ts runs the same
// suite with it left out (classic Append).
let emulator: EsdbEmulator;
let store: EsdbEventStore;

describeEventStoreConformance('EventStoreDB adapter on the FAKE emulator (BatchAppend)', {
  async open() {
    emulator = await startEsdbEmulator({ batchAppend: true });
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
    return store;
  },
  async close() {
    await store.close();
    await emulator.stop();
    expect(emulator.appendsServed.batch).toBeGreaterThan(0);
    expect(emulator.appendsServed.classic).toBe(0);
  },
  lateCommitSkipReason:
    'EventStoreDB commits each append at its log position, so no write can commit behind a later one; the race is a Postgres concern',
  serialisedWritersNote: 'the emulator applies appends one at a time, in arrival order, as the server\'s single writer does',
});
