import { Database } from '@khala/platform';
import { PostgresEventStore } from '@khala/eventstore';
import { connectTestDatabase, isPgliteRun } from '../support/test-database';
import { describeEventStoreConformance } from './support/event-store-conformance';

let db: Database;
let store: PostgresEventStore;

describeEventStoreConformance(isPgliteRun() ? 'Postgres store on PGlite' : 'Postgres store on Postgres', {
  async open() {
    // Enough connections for 16 racing appenders plus the subscriptions' polls.
    db = await connectTestDatabase({ max: 24 });
    store = new PostgresEventStore(db, { pollIntervalMs: 50 });
    return store;
  },
  async close() {
    await store.close();
    await db.close();
  },
  // PGlite serves one transaction at a time: a second writer would wait forever on the held one.
  holdAppendOpen: isPgliteRun()
    ? undefined
    : async (stream, events, options) => {
        const client = await db.pool.connect();
        try {
          await client.query('BEGIN');
          const result = await store.appendWithin(client, stream, events, options);
          return {
            result,
            async commit() {
              try {
                await client.query('COMMIT');
              } finally {
                client.release();
              }
            },
          };
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release();
          throw error;
        }
      },
  lateCommitSkipReason: 'PGlite runs one transaction at a time (runs on Postgres in CI)',
  serialisedWritersNote: isPgliteRun()
    ? 'PGlite runs one transaction at a time, so the appenders queue rather than race (they race on Postgres in CI)'
    : undefined,
});
