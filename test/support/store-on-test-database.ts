import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase, isPgliteRun } from './test-database';

/**
 * The run's test database and a Postgres event store on it, for one describe block. PGlite gets
 * one connection: its socket server interleaves concurrent connections' statements.
 */
export function useStoreOnTestDatabase(options: { connections: number; pollIntervalMs: number }): {
  readonly db: Database;
  readonly store: PostgresEventStore;
} {
  const harness = {} as { db: Database; store: PostgresEventStore };
  beforeAll(async () => {
    harness.db = await connectTestDatabase({ max: isPgliteRun() ? 1 : options.connections });
    harness.store = new PostgresEventStore(harness.db, { pollIntervalMs: options.pollIntervalMs });
  });
  afterAll(() => harness.db?.close());
  return harness;
}
