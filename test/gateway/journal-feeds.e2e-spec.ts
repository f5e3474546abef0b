import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Database } from '@khala/platform';
import { appendJournalBatch, encodeDocument, notifyJournalAppended } from '@khala/projections';
import { JournalRepository } from '../../apps/khala-gateway/src/sync/journal.repository';
import { JournalWakeups } from '../../apps/khala-gateway/src/sync/journal-wakeups';
import { FEED_IDLE_KEEP_MS, FeedListener, TopicFeeds } from '../../apps/khala-gateway/src/sync/topic-feeds';
import { connectTestDatabase } from '../support/test-database';
import { JournalWriter } from './support/gateway-harness';

const TOPIC = 'runtime.notifications';

describe('gateway journal reads (shared by all sockets of a process)', () => {
  let db: Database;
  let writer: JournalWriter;
  let journal: JournalRepository;

  beforeAll(async () => {
    db = await connectTestDatabase({ max: 4 });
    writer = await JournalWriter.open();
    journal = new JournalRepository(db);
  });

  afterAll(async () => {
    await writer.close();
    await db.close();
  });

  const org = () => `org_${randomUUID()}`;
  const docs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ tag, i }));

  it('reads many feeds in one query, each after its own watermark and at most the limit', async () => {
    const [a, b, empty] = [org(), org(), org()];
    await writer.append(TOPIC, a, docs(5, 'a'));
    await writer.append(TOPIC, b, docs(3, 'b'));
    const pages = await journal.readAfterMany(
      [
        { topic: TOPIC, orgId: a, after: 1 },
        { topic: TOPIC, orgId: empty, after: 0 },
        { topic: TOPIC, orgId: b, after: 0 },
      ],
      3,
    );
    expect(pages.map((rows) => rows.map((row) => row.watermark))).toEqual([[2, 3, 4], [], [1, 2, 3]]);
    expect(JSON.parse(pages[2][0].payload!)).toEqual({ tag: 'b', i: 0 });
    expect(pages[0][0]).toMatchObject({ doc_version: 1, hydration_required: false });
  });

  it('answers concurrent topicStates calls of different orgs from one query, each with its own org’s heads', async () => {
    const [a, b] = [org(), org()];
    await writer.append(TOPIC, a, docs(4, 'a'));
    await writer.append(TOPIC, b, docs(2, 'b'));
    await writer.append('runtime.run_summaries', b, docs(1, 'b'));
    const [forA, forB] = await Promise.all([
      journal.topicStates([TOPIC, 'runtime.run_summaries'], a),
      journal.topicStates([TOPIC, 'runtime.run_summaries'], b),
    ]);
    expect(Object.fromEntries(forA)).toEqual({ [TOPIC]: { head: 4, retainedFrom: 1 }, 'runtime.run_summaries': { head: 0, retainedFrom: 1 } });
    expect(Object.fromEntries(forB)).toEqual({ [TOPIC]: { head: 2, retainedFrom: 1 }, 'runtime.run_summaries': { head: 1, retainedFrom: 1 } });
  });

  it('shares identical reads in flight but never serves a finished read again (new rows are seen)', async () => {
    const a = org();
    await writer.append(TOPIC, a, docs(2, 'a'));
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => journal.readAfter(TOPIC, a, 0, 100)));
    for (const rows of concurrent) expect(rows.map((row) => row.watermark)).toEqual([1, 2]);
    await writer.append(TOPIC, a, docs(1, 'a'));
    expect((await journal.readAfter(TOPIC, a, 0, 100)).map((row) => row.watermark)).toEqual([1, 2, 3]);
  });

  describe('TopicFeeds', () => {
    const listener: FeedListener = { onFeedAdvanced: () => undefined };
    let feeds: TopicFeeds;

    beforeEach(() => {
      // refresh() is called directly; the wake-up source is not started.
      feeds = new TopicFeeds(journal, {} as JournalWakeups, pino({ level: 'silent' }));
    });

    afterEach(() => jest.restoreAllMocks());

    it('keeps following the journal for a while after its last subscriber left, so a resume replays from its window', async () => {
      const a = org();
      await writer.append(TOPIC, a, docs(3, 'a'));
      const feed = feeds.attach(TOPIC, a, 3, listener);
      feeds.detach(feed, listener);
      await writer.append(TOPIC, a, docs(4, 'a'));
      await feeds.refresh();
      expect(feed.head).toBe(7);
      expect(feeds.attach(TOPIC, a, 7, listener)).toBe(feed);
      expect(feed.rowsAfter(3)?.rows.map((row) => row.watermark)).toEqual([4, 5, 6, 7]);
    });

    it('drops a feed idle for longer than the grace period; a new subscriber gets a fresh one', async () => {
      const a = org();
      const feed = feeds.attach(TOPIC, a, 0, listener);
      feeds.detach(feed, listener);
      const now = Date.now();
      jest.spyOn(Date, 'now').mockReturnValue(now + FEED_IDLE_KEEP_MS + 1);
      await feeds.refresh();
      expect(feeds.size).toBe(0);
      expect(feeds.attach(TOPIC, a, 0, listener)).not.toBe(feed);
    });

    it('pulls a backlog larger than one read page completely in one refresh, in order', async () => {
      const a = org();
      const feed = feeds.attach(TOPIC, a, 0, listener);
      const seen: number[] = [];
      feeds.attach(TOPIC, a, 0, { onFeedAdvanced: (f) => seen.push(f.head) });
      await db.transaction(async (tx) => {
        const rows = docs(1500, 'a').map((doc, i) => ({ topic: TOPIC, orgId: a, docKey: `d:${i}`, docVersion: 1, encoded: encodeDocument(doc) }));
        await appendJournalBatch(tx, rows);
        await notifyJournalAppended(tx);
      });
      await feeds.refresh();
      expect(feed.head).toBe(1500);
      expect(seen).toEqual([1000, 1500]);
    });
  });
});
