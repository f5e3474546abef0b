import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { CommittedJournalRow, JOURNAL_CHANNEL } from '@khala/contracts';
import { PostgresEventStore, RecordedEvent } from '@khala/eventstore';
import { CommonEnv, Database } from '@khala/platform';
import { RunEventsProjection, RunSummariesProjection } from '@khala/projections';
import { JournalRepository } from '../../apps/khala-gateway/src/sync/journal.repository';
import { JournalWakeups } from '../../apps/khala-gateway/src/sync/journal-wakeups';
import { FeedListener, TopicFeed, TopicFeeds } from '../../apps/khala-gateway/src/sync/topic-feeds';
import { encodeRow } from '../../apps/khala-gateway/src/sync/update-batch';
import { connectTestDatabase, usePrivateDatabase } from '../support/test-database';
import {
  appendRun,
  eventually,
  isolatedCategories,
  isolatedProjections,
  runCreated,
  runFrame,
  runnersFor,
} from '../projections/support/projection-fixtures';

/** The real repository, counting the feed reads the gateway makes. */
class CountingJournal extends JournalRepository {
  feedReads = 0;
  override readAfterMany(...args: Parameters<JournalRepository['readAfterMany']>) {
    this.feedReads += 1;
    return super.readAfterMany(...args);
  }
}

/**
 * A projector in the gateway's process hands the journal rows it just committed over with its
 * wake-up (Database.notifyCommitted detail): the gateway delivers them without reading them back,
 * and reads only when they do not continue a feed (a commit it was not handed).
 */
describe('journal rows handed from a projector to the gateway in one process', () => {
  // A database of its own: projectors of other test files on the shared one NOTIFY the journal
  // channel, and every such wake-up (from another process, so without rows) is a read here.
  let privateDatabase: Awaited<ReturnType<typeof usePrivateDatabase>>;
  let db: Database;
  let journal: CountingJournal;
  let wakeups: JournalWakeups;
  let feeds: TopicFeeds;
  const categories = isolatedCategories();
  const summaries = new RunSummariesProjection({ name: `t_${categories.tag}_run_summaries` });
  const runEvents = new RunEventsProjection({ name: `t_${categories.tag}_run_events` });

  beforeAll(async () => {
    privateDatabase = await usePrivateDatabase();
    db = await connectTestDatabase({ max: 4 });
    journal = new CountingJournal(db);
    // No poll within a test: only wake-ups move the feeds.
    wakeups = new JournalWakeups(db, { POLL_INTERVAL_MS: 600_000 } as CommonEnv);
    await wakeups.onModuleInit();
    feeds = new TopicFeeds(journal, wakeups, pino({ level: 'silent' }));
    feeds.onModuleInit();
  });
  afterAll(async () => {
    feeds.onApplicationShutdown();
    wakeups.onApplicationShutdown();
    await db.close();
    await privateDatabase.release();
  });

  let position = 0n;
  const recorded = (runId: string, events: ReturnType<typeof runCreated>[], firstRevision = 0): RecordedEvent[] =>
    events.map((event, index) => ({
      ...event,
      stream: categories.runStream(runId),
      revision: BigInt(firstRevision + index),
      position: { commit: 1n, prepare: (position += 1n) },
      created: new Date(),
    }));
  /** One projector batch: project, commit, then the wake-up a runner sends (with or without its rows). */
  const commitBatch = async (events: RecordedEvent[], handOver = true): Promise<readonly CommittedJournalRow[]> => {
    const rows = await db.transaction(async (tx) => [...((await summaries.project(tx, events)) ?? []), ...((await runEvents.project(tx, events)) ?? [])]);
    db.notifyCommitted(JOURNAL_CHANNEL, '', handOver ? { rows } : undefined);
    return rows;
  };
  const advanced = (feed: TopicFeed, head: number) =>
    new Promise<void>((resolve) => {
      const listener: FeedListener = {
        onFeedAdvanced: (f) => {
          if (f.head < head) return;
          feeds.detach(feed, listener);
          resolve();
        },
      };
      feeds.attach(feed.topic, feed.orgId, feed.head, listener);
    });

  it('reports exactly the rows a journal read returns, and the gateway delivers them without a read', async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const listener: FeedListener = { onFeedAdvanced: () => undefined };
    const summaryFeed = feeds.attach('runtime.run_summaries', orgId, 0, listener);
    const eventsFeed = feeds.attach(`run:${runId}:events`, orgId, 0, listener);
    const readsBefore = journal.feedReads;

    const done = Promise.all([advanced(summaryFeed, 1), advanced(eventsFeed, 2)]);
    const rows = await commitBatch(recorded(runId, [runCreated(runId, orgId), runFrame(runId, orgId, 'RunStarted')]));
    await done;
    expect(journal.feedReads).toBe(readsBefore);

    // What was handed over is byte for byte what the journal holds.
    const stored = await new JournalRepository(db).readAfterMany(
      [
        { topic: 'runtime.run_summaries', orgId, after: 0 },
        { topic: `run:${runId}:events`, orgId, after: 0 },
      ],
      100,
    );
    expect(summaryFeed.rowsAfter(0)?.rows.map((row) => row.json)).toEqual(stored[0].map((row) => encodeRow('runtime.run_summaries', row).json));
    expect(eventsFeed.rowsAfter(0)?.rows.map((row) => row.json)).toEqual(stored[1].map((row) => encodeRow(`run:${runId}:events`, row).json));
    expect(rows.filter((row) => row.topic === 'runtime.run_events').map((row) => row.docKey)).toEqual([`run_event:${runId}:1`, `run_event:${runId}:2`]);
  });

  it('reads the journal when handed rows do not continue a feed (a commit it was not handed)', async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const feed = feeds.attach(`run:${runId}:events`, orgId, 0, { onFeedAdvanced: () => undefined });
    const readsBefore = journal.feedReads;
    // First commit: its wake-up is lost (another process wrote it, say); the second is handed over.
    await commitBatch(recorded(runId, [runCreated(runId, orgId)]), false);
    const done = advanced(feed, 2);
    await commitBatch(recorded(runId, [runFrame(runId, orgId, 'RunStarted')], 1));
    await done;
    expect(journal.feedReads).toBeGreaterThan(readsBefore);
    expect(feed.rowsAfter(0)?.rows.map((row) => row.watermark)).toEqual([1, 2]);
  });

  it('costs nothing for rows of topics nobody in this process follows', async () => {
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const readsBefore = journal.feedReads;
    await commitBatch(recorded(runId, [runCreated(runId, orgId)]));
    // A pass of our own afterwards: had the handed rows started one, it would still be running, and
    // this call would only have been folded into it (no read of its own).
    await feeds.refresh();
    expect(journal.feedReads).toBe(readsBefore + 1);
  });

  it('a live projector runner in this process hands its rows over: the feeds follow a whole run without a journal read', async () => {
    const runnerDb = await connectTestDatabase({ max: 4 });
    const store = new PostgresEventStore(runnerDb, { pollIntervalMs: 600_000 });
    const own = isolatedCategories();
    const runners = runnersFor(store, runnerDb, isolatedProjections(own).slice(0, 2)); // run summaries, run events
    try {
      for (const runner of runners) runner.start();
      await eventually(() => Promise.resolve(runners.every((runner) => runner.state === 'live')), Boolean, 'runners live');
      const orgId = `org_${randomUUID().slice(0, 8)}`;
      const runId = `run_${randomUUID().slice(0, 8)}`;
      const listener: FeedListener = { onFeedAdvanced: () => undefined };
      const summaryFeed = feeds.attach('runtime.run_summaries', orgId, 0, listener);
      const eventsFeed = feeds.attach(`run:${runId}:events`, orgId, 0, listener);
      const readsBefore = journal.feedReads;

      await appendRun(store, own.runStream(runId), runId, orgId, 3); // created, started, 3 deltas, finished
      await eventually(() => Promise.resolve(eventsFeed.head), (head) => head === 6, 'every run event in the feed');
      const lastSummary = () => {
        const rows = summaryFeed.rowsAfter(summaryFeed.head - 1)?.rows ?? [];
        return rows.length ? (JSON.parse(rows[rows.length - 1].json) as { payload: { status?: string } }).payload.status : undefined;
      };
      await eventually(() => Promise.resolve(lastSummary()), (status) => status === 'succeeded', 'the finished summary in the feed');
      expect(journal.feedReads).toBe(readsBefore);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
      await runnerDb.close();
    }
  });
});
