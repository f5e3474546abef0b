import { resolveTopic } from '@khala/contracts';
import type { TopicPolicy, TopicState } from '../journal.repository';
import type { FeedChunk, FeedListener, TopicFeed } from '../topic-feeds';
import { batchLength, EncodedRow, encodeRow, MAX_BATCH_UPDATES } from '../update-batch';
import { tracingEnabled } from '@khala/platform/tracing/tracing';
import type { Backpressure } from './backpressure';
import { startDeliverySpan } from './delivery-tracing';
import type { FrameEncoder } from './frame-encoder';
import { DEFAULT_POLICY, prunedCursorPush, ReplayPlan } from './resume-plan';
import type { SessionDeps, SessionTransport } from './session-ports';

/** One topic of this connection: its own cursor is the only thing that decides what is sent next. */
export interface TopicSubscription {
  topic: string;
  feed: TopicFeed;
  /** Last watermark sent. */
  cursor: number;
  /** Head committed when the subscription started (rows up to it exist). */
  knownHead: number;
  /** Replay bound; Infinity once live. */
  target: number;
  batchSize: number;
}

export interface DeliveryHooks {
  readonly orgId: string;
  /** The frame encoder of the current join. */
  encoder(): FrameEncoder;
  isClosed(): boolean;
  /** After each round: reply to the subscribes whose replay is complete. */
  completePending(): void;
  /** A subscription ended or was replaced: no subscribe waits for it any longer. */
  forgetTopic(topic: string): void;
}

/**
 * The delivery pump of one connection. Replay and live delivery are one loop over the same
 * per-topic cursor, so the switch from replay to live cannot leave a gap; the loop sends at most
 * one batch per topic per round (fairness) and stops while backpressure holds the socket back.
 */
export class TopicDelivery implements FeedListener {
  private readonly subs = new Map<string, TopicSubscription>();
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;
  private round = 0;

  constructor(
    private readonly deps: Pick<SessionDeps, 'journal' | 'feeds' | 'onBatchSent' | 'onError' | 'onStaleCursor'>,
    private readonly transport: SessionTransport,
    private readonly backpressure: Backpressure,
    private readonly hooks: DeliveryHooks,
  ) {}

  get subscriptions(): ReadonlyMap<string, TopicSubscription> {
    return this.subs;
  }

  has(topic: string): boolean {
    return this.subs.has(topic);
  }

  /** Starts replaying one topic from its plan (replacing a subscription to the same topic). */
  start(plan: ReplayPlan, batchSize: number): TopicSubscription {
    const previous = this.subs.get(plan.topic);
    if (previous) {
      this.deps.feeds.detach(previous.feed, this);
      this.hooks.forgetTopic(plan.topic);
    }
    const sub: TopicSubscription = {
      topic: plan.topic,
      feed: this.deps.feeds.attach(plan.topic, this.hooks.orgId, plan.head, this),
      cursor: plan.start,
      knownHead: plan.head,
      target: plan.head,
      batchSize,
    };
    this.subs.set(plan.topic, sub);
    return sub;
  }

  stop(topic: string): void {
    const sub = this.subs.get(topic);
    if (!sub) return;
    this.deps.feeds.detach(sub.feed, this);
    this.subs.delete(topic);
    this.hooks.forgetTopic(topic);
  }

  /** Drops every subscription (leave, a second join, close). */
  clear(): void {
    for (const sub of this.subs.values()) this.deps.feeds.detach(sub.feed, this);
    this.subs.clear();
  }

  watermarks(): { topic: string; watermark: number }[] {
    return [...this.subs.values()].map((sub) => ({ topic: sub.topic, watermark: sub.cursor }));
  }

  /**
   * The hot path: a caught-up live subscriber takes the feed's shared chunk synchronously (no
   * promise, no copy). Anything else (replay, a cursor inside a chunk, throttling) goes through
   * the pump, which still sends from the same cursor.
   */
  onFeedAdvanced(feed: TopicFeed): void {
    const sub = this.subs.get(feed.topic);
    if (sub && sub.feed === feed && sub.target === Infinity && !this.pumping && !this.backpressure.paused && !this.hooks.isClosed()) {
      for (let chunk = feed.chunkAt(sub.cursor); chunk; chunk = feed.chunkAt(sub.cursor)) {
        if (this.backpressure.backlogged()) break;
        this.sendChunk(sub, chunk);
      }
      if (sub.cursor >= feed.head) return;
    }
    this.schedule();
  }

  /**
   * The topic's floor passed the feed's head without a row (`rebuild --reset`): a subscription whose
   * cursor is now below the floor can never continue, so it is told at once (stale_cursor) instead
   * of waiting, live and silent, for a next row that may be long in coming.
   */
  onFeedFloorMoved(feed: TopicFeed, state: TopicState): void {
    const sub = this.subs.get(feed.topic);
    if (!sub || sub.feed !== feed || this.hooks.isClosed() || sub.cursor >= state.retainedFrom - 1) return;
    void this.cursorPruned(sub, state)
      .then(() => {
        this.hooks.completePending();
        this.schedule();
      })
      .catch((error) => this.deps.onError?.(error));
  }

  schedule(): void {
    if (this.pumpScheduled || this.hooks.isClosed()) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.backpressure.paused) return; // the drain check resumes delivery
    this.pumping = true;
    try {
      for (;;) {
        this.pumpAgain = false;
        let progressed = false;
        const subs = [...this.subs.values()];
        const offset = subs.length ? this.round++ % subs.length : 0;
        for (let i = 0; i < subs.length; i++) {
          const sub = subs[(offset + i) % subs.length];
          if (this.hooks.isClosed() || this.subs.get(sub.topic) !== sub) continue;
          const liveAndBehind = sub.target === Infinity && sub.cursor < Math.max(sub.feed.head, sub.knownHead);
          if (this.backpressure.holdsBack(sub.topic, liveAndBehind)) return;
          if (await this.deliverOne(sub)) progressed = true;
        }
        this.hooks.completePending();
        if (!progressed && !this.pumpAgain) break;
      }
    } catch (error) {
      this.deps.onError?.(error);
    } finally {
      this.pumping = false;
    }
  }

  /** Sends the next batch of one topic from its cursor; false when there is nothing to send. */
  private async deliverOne(sub: TopicSubscription): Promise<boolean> {
    const feed = sub.feed;
    const available = Math.max(feed.head, sub.knownHead);
    const upTo = Math.min(available, sub.target);
    if (sub.cursor >= upTo) return false;
    const live = sub.target === Infinity;

    if (live) {
      const chunk = feed.chunkAt(sub.cursor);
      if (chunk) {
        this.sendChunk(sub, chunk);
        return true;
      }
    }

    const maxUpdates = live ? MAX_BATCH_UPDATES : sub.batchSize;
    let rows: readonly EncodedRow[];
    let start: number;
    const buffered = feed.rowsAfter(sub.cursor);
    if (buffered) {
      ({ rows, start } = buffered);
    } else {
      const cursor = sub.cursor;
      const read = await this.deps.journal.readAfter(sub.topic, this.hooks.orgId, cursor, maxUpdates);
      if (this.subs.get(sub.topic) !== sub || sub.cursor !== cursor || this.hooks.isClosed()) return false;
      if (read.length === 0) {
        // Rows up to `available` were committed, yet none follows the cursor: unless this read
        // started before they committed, the floor moved past the cursor (a reset the feed saw
        // before this subscription attached to it). Only this rare case asks for the floor.
        if (available <= cursor) return false;
        const state = (await this.deps.journal.topicStates([sub.topic], this.hooks.orgId)).get(sub.topic)!;
        if (this.subs.get(sub.topic) !== sub || sub.cursor !== cursor || state.retainedFrom - 1 <= cursor) return false;
        await this.cursorPruned(sub, state);
        return true;
      }
      if (read[0].watermark !== cursor + 1) {
        await this.cursorPruned(sub);
        return true;
      }
      const encoded: EncodedRow[] = [];
      for (const row of read) {
        if (row.watermark !== cursor + 1 + encoded.length) break;
        encoded.push(encodeRow(sub.topic, row));
      }
      rows = encoded;
      start = 0;
    }
    const length = batchLength(rows, start, maxUpdates, upTo);
    if (length === 0) return false;
    const batch = rows.slice(start, start + length);
    const last = batch[batch.length - 1].watermark;
    const replayComplete = live || last >= sub.target;
    const head = Math.max(available, last);
    const span = tracingEnabled() ? startDeliverySpan(sub.topic, this.hooks.orgId, batch) : undefined;
    this.transport.send(this.hooks.encoder().batch(sub.topic, batch, replayComplete, head));
    span?.end();
    this.deps.onBatchSent?.(batch.length);
    sub.cursor = last;
    return true;
  }

  /** A feed's shared live batch, as every caught-up subscriber of the feed gets it. */
  private sendChunk(sub: TopicSubscription, chunk: FeedChunk): void {
    const span = tracingEnabled() ? startDeliverySpan(sub.topic, this.hooks.orgId, chunk.rows) : undefined;
    this.transport.send(this.hooks.encoder().chunk(chunk));
    span?.end();
    this.deps.onBatchSent?.(chunk.rows.length);
    sub.cursor = chunk.to;
  }

  /**
   * The journal no longer holds the row after this cursor (retention ran while it lagged, or a
   * reset moved the floor past it): the subscription ends with a stale_cursor push. `known` is the
   * topic state when the caller already read it.
   */
  private async cursorPruned(sub: TopicSubscription, known?: TopicState): Promise<void> {
    const state = known ?? (await this.deps.journal.topicStates([sub.topic], this.hooks.orgId)).get(sub.topic)!;
    const policy = await this.policyOf(sub.topic);
    // Told once: the reset notice and a delivery attempt may both find the same pruned cursor.
    if (this.hooks.isClosed() || this.subs.get(sub.topic) !== sub) return;
    this.stop(sub.topic);
    const push = prunedCursorPush(sub.topic, sub.cursor, state, policy);
    this.deps.onStaleCursor?.(push.reason_codes ?? []);
    this.transport.send(this.hooks.encoder().push('sync:error', 'sync_error', sub.topic, push));
  }

  private async policyOf(topic: string): Promise<TopicPolicy> {
    const resolved = resolveTopic(topic);
    return (resolved && (await this.deps.journal.policy(resolved.policyKey))) || DEFAULT_POLICY;
  }
}
