import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '@khala/platform';
import { CommittedJournal, CommittedJournalRow } from '@khala/contracts';
import { JournalRepository, JournalRow, TopicState } from './journal.repository';
import { JournalWakeups, WakeupReason } from './journal-wakeups';
import { batchLength, batchPayload, batchProtoBase64, EncodedRow, encodeRow, MAX_BATCH_UPDATES } from './update-batch';

/** Rows a feed keeps for sessions that are a little behind; older cursors read the journal. */
const FEED_KEEP_ROWS = 1024;
/**
 * And at most about this many bytes of encoded updates: a row count alone let feeds of large
 * documents hold tens of MiB each (the 600 s soak saw Buffer memory climb to 85 MiB). Only the rows
 * are counted: the encoded chunks (payload text and frames) exist for the newest read only.
 */
export const FEED_KEEP_BYTES = 1024 * 1024;
const FEED_READ_PAGE = 1000;
const MAX_CACHED_FRAMES_PER_CHUNK = 8;
/**
 * A feed whose last subscriber left keeps following the journal this long, so subscribers that
 * reconnect (a network blip, a gateway-wide resume storm) replay from its shared window instead of
 * each reading the journal.
 */
export const FEED_IDLE_KEEP_MS = 30_000;
/** The longest a journal read waits after a delivery pass (see deliveryPauseMs). */
export const MAX_DELIVERY_PAUSE_MS = 20;

/**
 * How long the next journal read waits after a delivery pass that took `passMs`: as long again
 * (bounded), so delivery takes at most about half the event loop however many rows arrive, and the
 * rows that arrive meanwhile go out together in one frame per subscriber. At streaming rates to a
 * large fan-out (1,000 subscribers, a row every 5 ms) a frame per row per subscriber saturated the
 * process; batching as load rises makes the cost per delivery fall. A pass under a millisecond
 * (small fan-out) adds no wait, so latency at low load is unchanged.
 */
export function deliveryPauseMs(passMs: number): number {
  return passMs < 1 ? 0 : Math.min(passMs, MAX_DELIVERY_PAUSE_MS);
}

/** Notified after a feed advanced (its new rows are readable from the feed). */
export interface FeedListener {
  onFeedAdvanced(feed: TopicFeed): void;
  /**
   * The topic's retention floor passed the feed's head with no row to read (a `rebuild --reset`
   * skipped a watermark): cursors below `state.retainedFrom - 1` can never be resumed.
   */
  onFeedFloorMoved?(feed: TopicFeed, state: TopicState): void;
}

/**
 * One live batch as every caught-up subscriber of the feed receives it: rows (from, to], encoded
 * once. The Phoenix frame differs between sockets only by join_ref, so finished frames are cached
 * per join_ref and handed to ws as the same Buffer (no per-subscriber copy or serialisation).
 * A feed keeps chunks for its newest read only (see TopicFeed.append), so these frames live until
 * the next read: keeping them for every chunk of the window held one Buffer per row per join_ref
 * (the 600 s soak's Buffer memory rose 3.6 → 106 MiB).
 */
export class FeedChunk {
  private payloadText?: string;
  private protoText?: string;
  private readonly frames = new Map<string | null, Buffer>();
  private frameBytesHeld = 0;

  constructor(
    readonly topic: string,
    readonly from: number,
    readonly rows: readonly EncodedRow[],
    readonly head: number,
  ) {}

  get to(): number {
    return this.rows[this.rows.length - 1].watermark;
  }

  payload(): string {
    return (this.payloadText ??= batchPayload(this.topic, this.rows, true, this.head));
  }

  protoBase64(): string {
    return (this.protoText ??= batchProtoBase64(this.topic, this.rows, true, this.head));
  }

  frame(joinRef: string | null, build: (payload: string) => string): Buffer | string {
    const cached = this.frames.get(joinRef);
    if (cached) return cached;
    const text = build(this.payload());
    if (this.frames.size >= MAX_CACHED_FRAMES_PER_CHUNK) return text;
    const buffer = Buffer.from(text);
    this.frames.set(joinRef, buffer);
    this.frameBytesHeld += buffer.length;
    return buffer;
  }

  /** Bytes of finished frames this chunk caches. */
  get frameBytes(): number {
    return this.frameBytesHeld;
  }
}

/**
 * The shared tail of one (topic, org) sequence in this process: read from the journal once per
 * wake-up and handed to every session subscribed to it. Rows are dense (watermark = base + index
 * + 1), so a session finds its next row by arithmetic; a session whose cursor is outside the
 * window reads the journal itself. The feed never decides what a session receives: each session
 * still sends strictly from its own cursor, so the feed is a cache, not a source of gaps.
 */
export class TopicFeed {
  /** Watermark just before rows[0]. */
  private base: number;
  private rows: EncodedRow[] = [];
  /** Sum of rows[i].json.length. */
  private bytes = 0;
  private readonly chunks = new Map<number, FeedChunk>();
  readonly listeners = new Set<FeedListener>();
  /** When the last listener left (undefined while someone listens). */
  idleSince?: number;

  constructor(
    readonly topic: string,
    readonly orgId: string,
    /** Highest watermark known committed; rows up to it are readable. */
    public head: number,
  ) {
    this.base = head;
  }

  /**
   * The shared batch that starts right after `cursor`, if the newest read produced one there. Only
   * a caught-up subscriber finds one; one that is further behind gets the rows pending for it
   * coalesced from the window (rowsAfter) into as few frames as the batch limits allow.
   */
  chunkAt(cursor: number): FeedChunk | undefined {
    return this.chunks.get(cursor);
  }

  /** Buffered rows after `cursor`, or undefined when the window does not hold row cursor + 1. */
  rowsAfter(cursor: number): { rows: readonly EncodedRow[]; start: number } | undefined {
    if (cursor < this.base || cursor >= this.base + this.rows.length) return undefined;
    return { rows: this.rows, start: cursor - this.base };
  }

  /**
   * Appends rows read from the journal (ascending, all > head); they become the feed's shared
   * chunks, replacing the previous read's (whose subscribers have taken them by now, or are behind
   * and better served by one coalesced batch than by a frame per old chunk).
   */
  append(rows: EncodedRow[]): void {
    if (rows.length === 0) return;
    if (rows[0].watermark !== this.head + 1 || this.base + this.rows.length !== this.head) {
      // Not contiguous with the window (retention pruned past it, or the feed was idle): restart it.
      this.rows = [];
      this.bytes = 0;
      this.chunks.clear();
      this.base = rows[0].watermark - 1;
    }
    let dense = rows.length;
    for (let i = 1; i < rows.length; i++) {
      if (rows[i].watermark !== rows[0].watermark + i) {
        dense = i;
        break;
      }
    }
    const accepted = rows.slice(0, dense);
    const newHead = accepted[accepted.length - 1].watermark;
    this.chunks.clear();
    for (let start = 0; start < accepted.length; ) {
      const length = batchLength(accepted, start, MAX_BATCH_UPDATES);
      const chunkRows = accepted.slice(start, start + length);
      const from = chunkRows[0].watermark - 1;
      this.chunks.set(from, new FeedChunk(this.topic, from, chunkRows, newHead));
      start += length;
    }
    for (const row of accepted) {
      this.rows.push(row);
      this.bytes += row.json.length;
    }
    this.head = newHead;
    this.trim();
  }

  /**
   * Empties the window and restarts it at `watermark` (the new floor): rows up to it will never
   * be read (a reset skipped past them), and the next row is watermark + 1.
   */
  restartAt(watermark: number): void {
    this.rows = [];
    this.bytes = 0;
    this.chunks.clear();
    this.base = this.head = watermark;
  }

  notifyFloorMoved(state: TopicState): void {
    for (const listener of this.listeners) listener.onFeedFloorMoved?.(this, state);
  }

  /** Bytes of encoded updates the window holds (for the bound and for tests). */
  get windowBytes(): number {
    return this.bytes;
  }

  /** Bytes of finished frames the feed's chunks cache (bounded by one read's chunks × join_refs). */
  get cachedFrameBytes(): number {
    let bytes = 0;
    for (const chunk of this.chunks.values()) bytes += chunk.frameBytes;
    return bytes;
  }

  private trim(): void {
    // Trim in bulk (down to half the allowance) so the splice cost is amortised over many appends.
    if (this.rows.length <= FEED_KEEP_ROWS * 2 && this.bytes <= FEED_KEEP_BYTES * 2) return;
    let drop = Math.max(0, this.rows.length - FEED_KEEP_ROWS);
    let kept = this.bytes;
    for (let i = 0; i < drop; i++) kept -= this.rows[i].json.length;
    // The newest row always stays: live chunks refer to it.
    while (kept > FEED_KEEP_BYTES && drop < this.rows.length - 1) kept -= this.rows[drop++].json.length;
    if (drop === 0) return;
    this.bytes = kept;
    this.rows.splice(0, drop);
    this.base += drop;
    for (const from of this.chunks.keys()) if (from < this.base) this.chunks.delete(from);
  }

  notify(): void {
    for (const listener of this.listeners) listener.onFeedAdvanced(this);
  }
}

/**
 * Every feed of this gateway process. A journal wake-up costs one read of every feed's new rows,
 * whatever the number of subscribers; a wake-up from a projector in this process carries the rows
 * it committed, and costs no read at all when they continue the feeds they belong to.
 */
@Injectable()
export class TopicFeeds implements OnModuleInit, OnApplicationShutdown {
  private readonly feeds = new Map<string, TopicFeed>();
  private refreshing = false;
  private again = false;
  /** The next pass reads the journal (a wake-up without rows, a poll, or a gap in handed rows). */
  private readDue = false;
  /** Rows handed over by this process's projectors since the last pass, per feed key. */
  private handed = new Map<string, CommittedJournalRow[]>();
  /** The next pass first compares every feed's head with its topic's floor (set by polls and reset notices). */
  private floorsDue = false;
  private unregister?: () => void;

  constructor(
    private readonly journal: JournalRepository,
    private readonly wakeups: JournalWakeups,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.unregister = this.wakeups.register((reason: WakeupReason, committed?: CommittedJournal) =>
      reason === 'journal' && committed ? this.takeHanded(committed) : void this.refresh(reason !== 'journal'),
    );
  }

  onApplicationShutdown(): void {
    this.unregister?.();
  }

  attach(topic: string, orgId: string, knownHead: number, listener: FeedListener): TopicFeed {
    const key = feedKey(topic, orgId);
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new TopicFeed(topic, orgId, knownHead);
      this.feeds.set(key, feed);
    }
    feed.listeners.add(listener);
    feed.idleSince = undefined;
    return feed;
  }

  detach(feed: TopicFeed, listener: FeedListener): void {
    feed.listeners.delete(listener);
    if (feed.listeners.size === 0) feed.idleSince ??= Date.now();
  }

  get size(): number {
    return this.feeds.size;
  }

  /**
   * Rows a projector of this process just committed: kept for the feeds they belong to (rows of
   * topics nobody here follows cost nothing), and delivered by the next pass without a read.
   */
  private takeHanded(committed: CommittedJournal): void {
    let kept = false;
    for (const row of committed.rows) {
      const key = feedKey(row.topic, row.orgId);
      if (!this.feeds.has(key)) continue;
      let rows = this.handed.get(key);
      if (!rows) this.handed.set(key, (rows = []));
      rows.push(row);
      kept = true;
    }
    if (kept) void this.refresh(false, false);
  }

  /**
   * Pulls the new rows of every feed in one query (or takes the rows handed over, see takeHanded);
   * wake-ups that land meanwhile coalesce into one more pass. Feeds idle for FEED_IDLE_KEEP_MS are
   * dropped first. With `checkFloors` (a reset notice or the poll, never a plain journal wake-up)
   * the pass first reads every feed's topic state.
   */
  async refresh(checkFloors = false, read = true): Promise<void> {
    if (checkFloors) this.floorsDue = true;
    if (read) this.readDue = true;
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    try {
      let pauseUntil = 0;
      do {
        const pause = pauseUntil - performance.now();
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause)); // wake-ups meanwhile set `again`
        this.again = false;
        this.dropIdle(Date.now());
        // Taken before the read: rows committed before it are in it too (and skipped below).
        const handed = this.handed;
        this.handed = new Map();
        const feeds = [...this.feeds.values()];
        if (feeds.length === 0) break;
        if (this.floorsDue) {
          this.floorsDue = false;
          await this.checkFloors(feeds);
        }
        const advanced = new Set<TopicFeed>();
        if (this.readDue) {
          this.readDue = false;
          const pages = await this.journal.readAfterMany(
            feeds.map((feed) => ({ topic: feed.topic, orgId: feed.orgId, after: feed.head })),
            FEED_READ_PAGE,
          );
          feeds.forEach((feed, i) => {
            if (this.appendNew(feed, pages[i])) advanced.add(feed);
            if (pages[i].length === FEED_READ_PAGE) this.readDue = this.again = true; // more behind this page
          });
        }
        for (const [key, rows] of handed) {
          const feed = this.feeds.get(key);
          if (!feed) continue;
          const fresh = rows.filter((row) => row.watermark > feed.head);
          if (fresh.length === 0) continue;
          // A gap before the handed rows is a commit not handed to us (another process's, or one
          // whose rows arrived out of order): the journal has it, so read.
          if (fresh[0].watermark !== feed.head + 1) {
            this.readDue = this.again = true;
            continue;
          }
          if (this.appendNew(feed, fresh.map(toJournalRow))) advanced.add(feed);
        }
        const passStart = performance.now();
        for (const feed of advanced) feed.notify();
        const passEnd = performance.now();
        pauseUntil = passEnd + deliveryPauseMs(passEnd - passStart);
      } while (this.again);
    } catch (error) {
      this.readDue = true; // rows handed over or pending in the journal: the next wake-up reads them
      this.logger.warn({ err: error }, 'journal feed refresh failed; the next wake-up retries');
    } finally {
      this.refreshing = false;
    }
  }

  /** Appends the rows after the feed's head; whether it advanced. */
  private appendNew(feed: TopicFeed, rows: readonly JournalRow[]): boolean {
    const fresh = rows.length > 0 && rows[0].watermark <= feed.head ? rows.filter((row) => row.watermark > feed.head) : rows;
    if (fresh.length === 0) return false;
    feed.append(fresh.map((row) => encodeRow(feed.topic, row)));
    return true;
  }

  /**
   * A `rebuild --reset` moves a topic's head and floor past a watermark no journal row carries, so
   * reading rows after the feed's head finds nothing and nobody would learn of it: compare each
   * feed's head with its topic's floor (one query), restart the windows the floor passed, and tell
   * their subscribers (whose cursors below the floor get stale_cursor).
   */
  private async checkFloors(feeds: TopicFeed[]): Promise<void> {
    const states = await this.journal.queryStates(feeds.map((feed) => ({ topic: feed.topic, orgId: feed.orgId })));
    for (const feed of feeds) {
      const state = states.get(`${feed.topic}\u0000${feed.orgId}`);
      if (!state || state.retainedFrom - 1 <= feed.head) continue;
      feed.restartAt(state.retainedFrom - 1);
      feed.notifyFloorMoved(state);
    }
  }

  private dropIdle(now: number): void {
    for (const [key, feed] of this.feeds) {
      if (feed.idleSince !== undefined && now - feed.idleSince >= FEED_IDLE_KEEP_MS) this.feeds.delete(key);
    }
  }
}

const feedKey = (topic: string, orgId: string) => `${orgId}\u0000${topic}`;

function toJournalRow(row: CommittedJournalRow): JournalRow {
  return {
    watermark: row.watermark,
    doc_key: row.docKey,
    doc_version: row.docVersion,
    payload: row.payload,
    payload_hash: row.payloadHash,
    hydration_required: row.hydrationRequired,
    traceparent: row.traceparent ?? null,
  };
}
