import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase, describeWithConcurrentPostgres, testDatabaseUrl } from '../support/test-database';
import { freshCategory, probeEvents } from './support/event-store-conformance';
import { SubscriptionCollector } from './support/subscription-collector';

// Subscribers poll this rarely, so only a wake-up can deliver within a test's time.
const NO_POLL = { pollIntervalMs: 600_000 };

/**
 * Appends commit without a NOTIFY of their own (migrations/0013): the appending process wakes its
 * own subscribers directly and other processes with a batched NOTIFY after the commit.
 */
describe('wake-ups after an append commits', () => {
  let writerDb: Database;
  let readerDb: Database;
  beforeAll(async () => {
    writerDb = await connectTestDatabase({ max: 2 });
    // A second pool on the same database, as the gateway's or a projector's would be in one process.
    readerDb = await connectTestDatabase({ max: 2 });
  });
  afterAll(async () => {
    await writerDb.close();
    await readerDb.close();
  });

  it('an append wakes a subscriber of this process at once, on PGlite too (no poll in time)', async () => {
    const reader = new PostgresEventStore(readerDb, NO_POLL);
    const category = freshCategory();
    const subscriber = new SubscriptionCollector(
      reader.subscribeToAll({ fromPosition: (await reader.headPosition()) ?? 'start', filter: { streamPrefixes: [`${category}-`] } }),
    );
    try {
      await subscriber.untilCaughtUp();
      const events = probeEvents(`${category}-1`, 2);
      await new PostgresEventStore(writerDb).append(`${category}-1`, events, { expectedRevision: 'no_stream' });
      await subscriber.untilEvents(events.map((event) => event.id));
    } finally {
      await subscriber.close();
    }
  });

  it('a wake-up is heard once by this process: its own NOTIFY to other processes is skipped', async () => {
    const channel = `khala_probe_${randomUUID().replace(/-/g, '')}`;
    const heard: string[] = [];
    const unlisten = await readerDb.listen(channel, (payload) => heard.push(payload));
    // One connection: the batched NOTIFY commits before the foreign one queued behind it.
    const sender = await connectTestDatabase({ max: 1 });
    try {
      sender.notifyCommitted(channel, 'own');
      expect(heard).toEqual(['own']);
      // A foreign NOTIFY (inside someone's transaction) committed after ours: once it is heard,
      // ours has been through the listener too, and was skipped there.
      await sender.query('SELECT pg_notify($1, $2)', [channel, 'foreign']);
      if (!readerDb.isPglite) {
        for (let i = 0; i < 250 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(heard).toEqual(['own', 'foreign']);
      }
    } finally {
      unlisten();
      await sender.close();
    }
  });
});

describeWithConcurrentPostgres('wake-ups across processes', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
  });
  afterAll(() => db.close());

  it("another process's append wakes this process's subscriber (its batched NOTIFY, sent before it exits)", async () => {
    const store = new PostgresEventStore(db, NO_POLL);
    const category = freshCategory();
    const subscriber = new SubscriptionCollector(
      store.subscribeToAll({ fromPosition: (await store.headPosition()) ?? 'start', filter: { streamPrefixes: [`${category}-`] } }),
    );
    try {
      await subscriber.untilCaughtUp();
      const id = randomUUID();
      await runToExit(join(__dirname, 'support', 'append-once.ts'), [testDatabaseUrl(), `${category}-1`, id]);
      await subscriber.untilEvents([id]);
    } finally {
      await subscriber.close();
    }
  });
});

function runToExit(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', script, ...args], {
      env: { ...process.env, SWC_NODE_PROJECT: join(__dirname, '..', '..', 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}: ${stderr}`))));
  });
}
