import { deliveryPauseMs, FEED_KEEP_BYTES, MAX_DELIVERY_PAUSE_MS, TopicFeed } from './topic-feeds';
import { encodeRow } from './update-batch';

const row = (watermark: number, payload = '{"a":1}') =>
  encodeRow('t', { watermark, doc_key: `d:${watermark}`, doc_version: 1, payload, payload_hash: 'sha256:x', hydration_required: false });

describe('TopicFeed', () => {
  it('serves shared chunks at their start, buffered rows from any cursor in its window, and nothing outside it', () => {
    const feed = new TopicFeed('t', 'org', 10);
    feed.append([row(11), row(12), row(13)]);
    expect(feed.chunkAt(10)?.to).toBe(13);
    feed.append([row(14)]);
    expect(feed.head).toBe(14);
    // Chunks are the newest read's only: a cursor at 10 is behind and coalesces from the window.
    expect(feed.chunkAt(10)).toBeUndefined();
    expect(feed.rowsAfter(10)).toMatchObject({ start: 0 });
    expect(feed.chunkAt(13)?.to).toBe(14);
    expect(feed.chunkAt(11)).toBeUndefined();
    expect(feed.rowsAfter(11)).toMatchObject({ start: 1 });
    expect(feed.rowsAfter(9)).toBeUndefined();
    expect(feed.rowsAfter(14)).toBeUndefined();
  });

  it('restarts its window instead of bridging a gap', () => {
    const feed = new TopicFeed('t', 'org', 0);
    feed.append([row(1), row(2)]);
    feed.append([row(5), row(6), row(8)]);
    expect(feed.head).toBe(6);
    expect(feed.rowsAfter(1)).toBeUndefined();
    expect(feed.rowsAfter(4)).toMatchObject({ start: 0 });
  });

  it('restarts at a reset floor: nothing at or below it is served, and the next row continues the window', () => {
    const feed = new TopicFeed('t', 'org', 0);
    feed.append([row(1), row(2)]);
    // rebuild --reset: head 2 → 3 with no row, retained_from 4.
    feed.restartAt(3);
    expect(feed.head).toBe(3);
    expect(feed.chunkAt(1)).toBeUndefined();
    expect(feed.rowsAfter(1)).toBeUndefined();
    expect(feed.rowsAfter(2)).toBeUndefined();
    feed.append([row(4)]);
    expect(feed.head).toBe(4);
    expect(feed.chunkAt(3)?.to).toBe(4);
    expect(feed.rowsAfter(3)).toMatchObject({ start: 0 });
  });

  it('bounds its window by bytes as well as rows: large documents fall back to journal reads', () => {
    const feed = new TopicFeed('t', 'org', 0);
    const large = JSON.stringify({ text: 'x'.repeat(64 * 1024) });
    for (let watermark = 1; watermark <= 100; watermark++) feed.append([row(watermark, large)]);
    expect(feed.head).toBe(100);
    expect(feed.windowBytes).toBeLessThanOrEqual(2 * FEED_KEEP_BYTES + large.length * 2);
    // The newest rows are still served from the window, the oldest no longer (sessions read the journal).
    expect(feed.rowsAfter(99)).toMatchObject({ start: expect.any(Number) });
    expect(feed.rowsAfter(1)).toBeUndefined();
    expect(feed.chunkAt(0)).toBeUndefined();
    expect(feed.chunkAt(99)?.to).toBe(100);
  });

  it('holds finished frames for its newest read only, however many rows its window keeps (streaming to 8 join_refs)', () => {
    const feed = new TopicFeed('t', 'org', 0);
    const document = JSON.stringify({ text: 'x'.repeat(800) });
    const build = (ref: string) => (payload: string) => `["${ref}",null,"sync:v1","sync:update_batch",${payload}]`;
    let oneRead = 0;
    for (let watermark = 1; watermark <= 1500; watermark++) {
      feed.append([row(watermark, document)]);
      const chunk = feed.chunkAt(watermark - 1)!;
      for (let ref = 0; ref < 8; ref++) chunk.frame(String(ref), build(String(ref)));
      oneRead = Math.max(oneRead, chunk.frameBytes);
    }
    // The window still serves the last ~1,000 rows to subscribers that are behind…
    expect(feed.rowsAfter(1000)).toBeDefined();
    // …but the frames cached are one read's (8 join_refs × one row), not one per row per join_ref (was ~12 MiB).
    expect(oneRead).toBeGreaterThan(8 * document.length);
    expect(feed.cachedFrameBytes).toBe(oneRead);
    expect(feed.chunkAt(1000)).toBeUndefined();
  });

  it('paces journal reads after a costly delivery pass (large fan-out), never after a cheap one', () => {
    expect(deliveryPauseMs(0.2)).toBe(0);
    expect(deliveryPauseMs(6)).toBe(6);
    expect(deliveryPauseMs(500)).toBe(MAX_DELIVERY_PAUSE_MS);
  });

  it('caches one frame Buffer per join_ref', () => {
    const feed = new TopicFeed('t', 'org', 0);
    feed.append([row(1)]);
    const chunk = feed.chunkAt(0)!;
    const build = (payload: string) => `["1",null,"sync:v1","sync:update_batch",${payload}]`;
    expect(chunk.frame('1', build)).toBe(chunk.frame('1', build));
    expect(JSON.parse(chunk.frame('1', build).toString())[4]).toMatchObject({ replay_complete: true, updates: [{ watermark: 1, payload: { a: 1 } }] });
  });
});
