import { Test } from '@nestjs/testing';
import { Database } from '@khala/platform';
import { EsdbEventStore, EVENT_STORE, EventStore, EventStoreModule, PostgresEventStore } from '@khala/eventstore';
import { connectTestDatabase } from '../support/test-database';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';

const TEST_DATABASE = Symbol('TEST_DATABASE');

describe('EventStoreModule picks the adapter from EVENTSTORE_URL', () => {
  let db: Database;
  let emulator: EsdbEmulator;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    emulator = await startEsdbEmulator();
  });
  afterAll(async () => {
    await db.close();
    await emulator.stop();
  });

  async function roundTrip(store: EventStore): Promise<void> {
    const stream = `${freshCategory()}-1`;
    await store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' });
    expect((await collect(store.readStream(stream))).map((event) => event.revision)).toEqual([0n]);
  }

  it('without a URL: the Postgres store on the given database', async () => {
    const previous = process.env.EVENTSTORE_URL;
    delete process.env.EVENTSTORE_URL;
    try {
      const moduleRef = await resolveWithGlobalDatabase(undefined);
      const store = moduleRef.get<EventStore>(EVENT_STORE);
      expect(store).toBeInstanceOf(PostgresEventStore);
      await roundTrip(store);
      await moduleRef.close();
    } finally {
      if (previous !== undefined) process.env.EVENTSTORE_URL = previous;
    }
  });

  it('with a URL: the EventStoreDB adapter (here on the FAKE emulator), closed with the app', async () => {
    const moduleRef = await resolveWithGlobalDatabase(emulator.connectionString);
    const store = moduleRef.get<EventStore>(EVENT_STORE);
    expect(store).toBeInstanceOf(EsdbEventStore);
    await roundTrip(store);
    await moduleRef.close();
  });

  /** The app's Database is a global provider, as the platform module's DATABASE is. */
  async function resolveWithGlobalDatabase(eventStoreUrl: string | undefined) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        {
          global: true,
          module: class GlobalDatabaseModule {},
          providers: [{ provide: TEST_DATABASE, useValue: db }],
          exports: [TEST_DATABASE],
        },
        EventStoreModule.forRoot({ database: TEST_DATABASE, eventStoreUrl }),
      ],
    }).compile();
    await moduleRef.init();
    return moduleRef;
  }
});
