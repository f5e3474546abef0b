import { EsdbEventStore } from '@khala/eventstore';
import { describeEventStoreConformance } from './support/event-store-conformance';

// Against a real EventStoreDB/KurrentDB when EVENTSTORE_URL points at one (e.g.
// esdb://127.0.0.1:2113?tls=false); skipped, saying so, everywhere else.
const url = process.env.EVENTSTORE_URL;
let store: EsdbEventStore;

describeEventStoreConformance('EventStoreDB adapter on a real server', {
  skipReason: url ? undefined : 'EVENTSTORE_URL is not set (no EventStoreDB/KurrentDB server to test against)',
  async open() {
    store = EsdbEventStore.connect(url!, { reconnectDelayMs: 100 });
    return store;
  },
  async close() {
    await store.close();
  },
  lateCommitSkipReason:
    'EventStoreDB commits each append at its log position, so no write can commit behind a later one; the race is a Postgres concern',
});
