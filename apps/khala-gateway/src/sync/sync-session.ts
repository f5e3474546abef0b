import { randomUUID } from 'node:crypto';
import type { SyncPrincipal } from '@khala/auth';
import type { RefusedTopic } from '@khala/contracts';
import { encodeFrameRaw, isTopicClass, PhoenixMessage, replyFrame, ResolvedTopic, resolveTopic, SNAPSHOT_FORMAT, SYNC_CHANNEL } from '@khala/contracts';
import { EntityRef, JournalRepository, TopicPolicy, TopicState } from './journal.repository';
import { khalaFrameJson, KhalaFrameKind, pushProtoBase64 } from './khala-frame';
import { planTopic, snapshotPlanTopic, staleCursorDetails, staleTopic, TopicPlan } from './resume-plan';
import { SyncError } from './sync.error';
import { FeedListener, TopicFeed, TopicFeeds } from './topic-feeds';
import { batchLength, batchPayload, batchProtoBase64, EncodedRow, encodeRow, MAX_BATCH_UPDATES } from './update-batch';

export const MAX_TOPICS = 64;
/** Policy of a topic class missing from khala.topic_classes (never expected; replay-only, small budget). */
const DEFAULT_POLICY: TopicPolicy = { replayBudget: 3000, hasSnapshot: false };
/** One message for every refused topic, whatever the reason (no scope, unknown, foreign, nonexistent). */
const FORBIDDEN_MESSAGE = 'not allowed to subscribe to this topic';
/** Strikes forgotten after this long without an overflow. */
const STRIKE_MEMORY_MS = 60_000;
const DRAIN_CHECK_MS = 20;
/**
 * Unflushed bytes above which a live subscription stops taking each new chunk as it comes: the
 * socket is not keeping up, so the rows pending for it wait and then go out coalesced (up to the
 * batch limits) once the backlog drains, and the cost per delivery falls as load rises. Far below
 * the slow-consumer cap: ordinary back-pressure, a strike only when it does not shrink at all for
 * the strike interval (awaitBacklog).
 */
export const COALESCE_BACKLOG_BYTES = 64 * 1024;
/** A socket opened with an already revoked session is closed this long after the revocation is seen if it never joins. */
const REVOKED_JOIN_WAIT_MS = 5_000;

export interface SessionTransport {
  send(frame: string | Buffer): void;
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export interface SessionOptions {
  bufferedAmountCap: number;
  strikeMs: number;
}

/** Entity ownership as the projections show it (EntityOwnership), waited for when not shown yet. */
export interface OwnershipCheck {
  check(entities: EntityRef[]): Promise<boolean[]>;
  waitFor(entity: EntityRef): Promise<boolean>;
}

export interface SessionDeps {
  journal: JournalRepository;
  ownership: OwnershipCheck;
  feeds: TopicFeeds;
  revocationReason(sessionId: string): Promise<string | undefined>;
  onSlowConsumer?(action: 'throttle' | 'disconnect'): void;
  onBatchSent?(updates: number): void;
  onError?(error: unknown): void;
}

/**
 * Close codes (4000-4999 are the application's): clients reconnect on all but reauth; after
 * tokenExpired they reconnect with a fresh sync token (same session, resume from watermarks).
 */
export const CLOSE = { reauth: 4401, idle: 4408, rateLimited: 4428, slowConsumer: 4429, tokenExpired: 4440 } as const;

/** One topic of this connection: its own cursor is the only thing that decides what is sent next. */
interface TopicSubscription {
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


type EntityTopic = Extract<ResolvedTopic, { kind: 'run' | 'worker' }>;

interface PendingSubscribe {
  message: PhoenixMessage;
  topics: string[];
  requestId?: string;
  waiting: Map<string, TopicSubscription>;
  /** Entity topics whose ownership is still being waited for: the reply waits for their verdict. */
  deciding: number;
  refused: RefusedTopic[];
  /** Where each subscribed topic's retained stream starts (reported as retained_from). */
  retainedFrom: Map<string, number>;
}

/**
 * One client's sync:v1 state (khala-protocol.md §4-§9). Replay and live delivery are one loop
 * over the same per-topic cursor, so the switch from replay to live cannot leave a gap; the loop
 * sends at most one batch per topic per round (fairness) and stops while the socket's unflushed
 * bytes are over the cap (the journal, not memory, is the queue of a slow consumer).
 */
export class SyncSession implements FeedListener {
  readonly subscriptionId = randomUUID();
  lastActivityAt = Date.now();
  private joinRef: string | null = null;
  private joined = false;
  private frames = false;
  private frameSeq = 0;
  private readonly subs = new Map<string, TopicSubscription>();
  private readonly pending = new Set<PendingSubscribe>();
  private control: Promise<void> = Promise.resolve();
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;
  private round = 0;
  private closed = false;
  private strikes = 0;
  private lastStrikeAt = 0;
  private drainTimer?: NodeJS.Timeout;
  /** Waiting for the socket's backlog to fall below backlogLimit (no strike). */
  private backlogTimer?: NodeJS.Timeout;
  /**
   * Whether the session was already revoked when this socket opened (looked up once, at open;
   * undefined when the lookup failed, so the join asks again). Later revocations arrive as
   * revoke() from the watcher, which also closes the socket.
   */
  private readonly revokedAtOpen: Promise<{ reason: string | undefined } | undefined>;
  private revokedReason?: string;
  private revokedJoinTimer?: NodeJS.Timeout;

  constructor(
    readonly principal: SyncPrincipal,
    private readonly deps: SessionDeps,
    private readonly transport: SessionTransport,
    private readonly options: SessionOptions,
  ) {
    this.revokedAtOpen = deps.revocationReason(principal.sessionId).then(
      (reason) => ({ reason }),
      () => undefined,
    );
  }

  get sessionId(): string {
    return this.principal.sessionId;
  }

  /** Handles one parsed client frame. State-changing events run one at a time, in arrival order. */
  handle(message: PhoenixMessage): Promise<void> {
    this.lastActivityAt = Date.now();
    if (message.topic === 'phoenix') {
      if (message.event === 'heartbeat') this.transport.send(replyFrame(message, 'ok', {}));
      else this.replyError(message, new SyncError('unknown_event', `unknown event ${message.event} on topic phoenix`));
      return Promise.resolve();
    }
    if (message.event === 'sync:heartbeat' && message.topic === SYNC_CHANNEL && this.joined) {
      this.transport.send(replyFrame(message, 'ok', { subscription_id: this.subscriptionId, watermarks: this.watermarks() }));
      return Promise.resolve();
    }
    const run = this.control.then(() => this.dispatch(message));
    this.control = run.catch(() => undefined);
    return run;
  }

  private async dispatch(message: PhoenixMessage): Promise<void> {
    if (this.closed) return;
    try {
      if (message.event === 'phx_join') return await this.join(message);
      if (message.topic !== SYNC_CHANNEL) throw new SyncError('bad_topic', `only ${SYNC_CHANNEL} exists`);
      if (!this.joined) throw new SyncError('not_joined', `join ${SYNC_CHANNEL} first`);
      switch (message.event) {
        case 'phx_leave':
          this.reset();
          this.joined = false;
          return this.transport.send(replyFrame(message, 'ok', {}));
        case 'sync:subscribe':
          return await this.subscribe(message);
        case 'sync:unsubscribe':
          return this.unsubscribe(message);
        default:
          throw new SyncError('unknown_event', `unknown event ${message.event}`);
      }
    } catch (error) {
      if (!(error instanceof SyncError)) this.deps.onError?.(error);
      this.replyError(message, error instanceof SyncError ? error : new SyncError('internal', 'internal error'));
    }
  }

  private replyError(message: PhoenixMessage, error: SyncError): void {
    this.transport.send(replyFrame(message, 'error', error.toPayload()));
  }

  // ------------------------------------------------------------------ join / leave

  private async join(message: PhoenixMessage): Promise<void> {
    if (message.topic !== SYNC_CHANNEL) throw new SyncError('bad_topic', `only ${SYNC_CHANNEL} can be joined`);
    const revoked = this.revokedReason ?? (await this.revokedAtOpen)?.reason ?? (await this.deps.revocationReason(this.principal.sessionId));
    if (revoked !== undefined) {
      // §2: the join of a revoked session fails with reauth_required; nothing more can happen here.
      this.replyError(message, new SyncError('reauth_required', 'the session of this token was revoked', { reauth_required: true, reason: revoked }));
      return this.close(CLOSE.reauth, 'reauth required');
    }
    // A second join on the same socket replaces the first (as a Phoenix server does).
    this.reset();
    this.joinRef = message.joinRef ?? message.ref;
    this.joined = true;
    this.frames = message.payload.frames === true;
    this.transport.send(
      replyFrame(message, 'ok', {
        subscription_id: this.subscriptionId,
        allowed_topics: this.principal.scopes.filter(isTopicClass),
        current_watermarks: [],
      }),
    );
  }

  private reset(): void {
    for (const sub of this.subs.values()) this.deps.feeds.detach(sub.feed, this);
    this.subs.clear();
    this.pending.clear();
  }

  // ------------------------------------------------------------------ subscribe

  /**
   * Subscribes the allowed topics of one request and reports the others per topic (§4, §7). Entity
   * topics the projections do not show yet are waited for (bounded, EntityOwnership); meanwhile the
   * other topics already replay, and the reply follows once every topic has its verdict.
   */
  private async subscribe(message: PhoenixMessage): Promise<void> {
    const request = parseSubscribe(message.payload);
    const total = new Set([...this.subs.keys(), ...request.topics]).size;
    if (total > MAX_TOPICS) {
      throw new SyncError('bad_subscription', `a connection may subscribe to at most ${MAX_TOPICS} topics`, { max_topics: MAX_TOPICS });
    }
    const access = await this.decideAccess(request.topics);
    const { ready, refused } = access;
    let late = access.late;
    if (ready.length === 0 && late.length > 0) {
      // Nothing to start meanwhile: wait for every verdict (an all-refused request stays one error).
      const owned = await Promise.all(late.map((topic) => this.deps.ownership.waitFor(this.entityRef(topic))));
      late.forEach((topic, i) => (owned[i] ? ready.push(topic) : refused.push(refusal(topic.topic))));
      late = [];
    }
    if (this.closed || !this.joined) return;
    const byRequestOrder = (entries: RefusedTopic[]) => entries.sort((a, b) => request.topics.indexOf(a.topic) - request.topics.indexOf(b.topic));
    if (ready.length === 0) {
      const all = byRequestOrder(refused);
      throw new SyncError('forbidden_topic', 'not allowed to subscribe to these topics', { forbidden_topics: all.map((entry) => entry.topic), refused_topics: all });
    }
    const refusedNow = refused.length ? { refused_topics: byRequestOrder([...refused]) } : {};

    const plans = await this.planTopics(ready.map((topic) => topic.topic), request.resumeAfter);
    const ahead = plans.filter((plan) => plan.kind === 'ahead').map((plan) => plan.topic);
    if (ahead.length) {
      throw new SyncError('bad_subscription', 'resume_after is ahead of the head watermark', { topics: ahead, ...refusedNow });
    }
    const stale = plans.filter((plan): plan is Extract<TopicPlan, { kind: 'stale' }> => plan.kind === 'stale');
    if (stale.length) {
      throw new SyncError('stale_cursor', 'cursor cannot be resumed; bootstrap from the snapshot or resubscribe', { ...staleCursorDetails(stale), ...refusedNow });
    }
    if (this.closed || !this.joined) return;

    const pending: PendingSubscribe = {
      message,
      topics: request.topics,
      requestId: request.requestId,
      waiting: new Map(),
      deciding: late.length,
      refused,
      retainedFrom: new Map(),
    };
    for (const plan of plans) if (plan.kind === 'replay') this.startTopic(pending, plan, request.replayBatchSize);
    this.pending.add(pending);
    this.completePending();
    this.schedulePump();
    if (late.length === 0) return;

    // Each late topic starts as soon as its own verdict is in; a foreign id delays only the reply.
    await Promise.all(
      late.map(async (topic) => {
        try {
          const owned = await this.deps.ownership.waitFor(this.entityRef(topic));
          if (this.closed || !this.pending.has(pending)) return;
          if (!owned) {
            pending.refused.push(refusal(topic.topic));
            return;
          }
          const [plan] = await this.planTopics([topic.topic], request.resumeAfter);
          if (this.closed || !this.pending.has(pending)) return;
          if (plan.kind === 'replay') this.startTopic(pending, plan, request.replayBatchSize);
          else if (plan.kind === 'ahead') pending.refused.push({ topic: topic.topic, code: 'bad_subscription', message: 'resume_after is ahead of the head watermark' });
          // The other topics are already subscribed, so this one learns it as a push (as a cursor pruned mid-replay does).
          else this.push('sync:error', 'sync_error', topic.topic, { code: 'stale_cursor', message: 'cursor cannot be resumed; bootstrap from the snapshot or resubscribe', ...staleCursorDetails([plan]) });
        } finally {
          pending.deciding -= 1;
        }
      }),
    );
    byRequestOrder(pending.refused);
    this.completePending();
    this.schedulePump();
  }

  /**
   * Which topics the caller may have: scope and topic grammar first, then entity ownership as the
   * projections show it now; `late` are entity topics not shown yet, to be waited for.
   */
  private async decideAccess(topics: string[]): Promise<{ ready: ResolvedTopic[]; late: EntityTopic[]; refused: RefusedTopic[] }> {
    const ready: ResolvedTopic[] = [];
    const refused: RefusedTopic[] = [];
    const entities: EntityTopic[] = [];
    for (const topic of topics) {
      const resolved = resolveTopic(topic);
      if (!resolved || !this.principal.scopes.includes(resolved.scope)) refused.push(refusal(topic));
      else if (resolved.kind === 'class') ready.push(resolved);
      else entities.push(resolved);
    }
    const shown = await this.deps.ownership.check(entities.map((entity) => this.entityRef(entity)));
    const late = entities.filter((_, i) => !shown[i]);
    ready.push(...entities.filter((_, i) => shown[i]));
    return { ready, late, refused };
  }

  private entityRef(topic: EntityTopic): EntityRef {
    return { kind: topic.kind, entityId: topic.entityId, topic: topic.topic, orgId: this.principal.orgId };
  }

  private async planTopics(topics: string[], resumeAfter: Map<string, number>): Promise<TopicPlan[]> {
    const states = await this.deps.journal.topicStates(topics, this.principal.orgId);
    return Promise.all(
      topics.map(async (topic) => {
        const policy = (await this.deps.journal.policy(resolveTopic(topic)!.policyKey)) ?? DEFAULT_POLICY;
        return planTopic(topic, resumeAfter.get(topic), states.get(topic)!, policy);
      }),
    );
  }

  private startTopic(pending: PendingSubscribe, plan: Extract<TopicPlan, { kind: 'replay' }>, batchSize: number): void {
    const previous = this.subs.get(plan.topic);
    if (previous) {
      this.deps.feeds.detach(previous.feed, this);
      for (const other of this.pending) other.waiting.delete(plan.topic);
    }
    const sub: TopicSubscription = {
      topic: plan.topic,
      feed: this.deps.feeds.attach(plan.topic, this.principal.orgId, plan.head, this),
      cursor: plan.start,
      knownHead: plan.head,
      target: plan.head,
      batchSize,
    };
    this.subs.set(plan.topic, sub);
    pending.waiting.set(plan.topic, sub);
    pending.retainedFrom.set(plan.topic, plan.retainedFrom);
  }

  private unsubscribe(message: PhoenixMessage): void {
    const topics = message.payload.topics;
    if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS || !topics.every((t) => typeof t === 'string')) {
      throw new SyncError('bad_subscription', `topics must be 1..${MAX_TOPICS} strings`);
    }
    for (const topic of topics as string[]) {
      const sub = this.subs.get(topic);
      if (!sub) continue;
      this.deps.feeds.detach(sub.feed, this);
      this.subs.delete(topic);
      for (const pending of this.pending) pending.waiting.delete(topic);
    }
    this.transport.send(replyFrame(message, 'ok', { subscription_id: this.subscriptionId, topics: [...this.subs.keys()] }));
    this.completePending();
  }

  /** Replies to every subscribe whose replay reached its target, then lets those topics go live. */
  private completePending(): void {
    for (const pending of this.pending) {
      for (const [topic, sub] of pending.waiting) {
        if (this.subs.get(topic) !== sub) pending.waiting.delete(topic);
        else if (sub.cursor >= sub.target) pending.waiting.delete(topic);
      }
      if (pending.waiting.size > 0 || pending.deciding > 0) continue;
      this.pending.delete(pending);
      const subscribed = pending.topics.filter((topic) => this.subs.has(topic));
      const watermarks = subscribed.map((topic) => ({ topic, watermark: this.subs.get(topic)!.cursor }));
      const refused = new Set(pending.refused.map((entry) => entry.topic));
      for (const topic of pending.topics) {
        const sub = this.subs.get(topic);
        if (sub && ![...this.pending].some((other) => other.waiting.get(topic) === sub)) sub.target = Infinity;
      }
      this.transport.send(
        replyFrame(pending.message, 'ok', {
          subscription_id: this.subscriptionId,
          topics: pending.topics.filter((topic) => !refused.has(topic)),
          current_watermarks: watermarks,
          // Where each topic's retained stream starts: a client without a cursor takes retained_from - 1 as its base.
          retained_from: subscribed
            .filter((topic) => pending.retainedFrom.has(topic))
            .map((topic) => ({ topic, watermark: pending.retainedFrom.get(topic)! })),
          ...(pending.refused.length ? { refused_topics: pending.refused } : {}),
          ...(pending.requestId !== undefined ? { request_id: pending.requestId } : {}),
        }),
      );
      this.schedulePump();
    }
  }

  // ------------------------------------------------------------------ delivery

  /**
   * The hot path: a caught-up live subscriber takes the feed's shared chunk synchronously (no
   * promise, no copy). Anything else (replay, a cursor inside a chunk, throttling) goes through
   * the pump, which still sends from the same cursor.
   */
  onFeedAdvanced(feed: TopicFeed): void {
    const sub = this.subs.get(feed.topic);
    if (sub && sub.feed === feed && sub.target === Infinity && !this.pumping && !this.drainTimer && !this.backlogTimer && !this.closed) {
      for (let chunk = feed.chunkAt(sub.cursor); chunk; chunk = feed.chunkAt(sub.cursor)) {
        if (this.transport.bufferedAmount() > this.backlogLimit) break;
        if (this.frames) this.sendKhalaFrame(sub.topic, 'update_batch', chunk.protoBase64());
        else this.transport.send(chunk.frame(this.joinRef, (payload) => this.batchFrameText(payload)));
        this.deps.onBatchSent?.(chunk.rows.length);
        sub.cursor = chunk.to;
      }
      if (sub.cursor >= feed.head) return;
    }
    this.schedulePump();
  }

  /**
   * The topic's floor passed the feed's head without a row (`rebuild --reset`): a subscription whose
   * cursor is now below the floor can never continue, so it is told at once (stale_cursor) instead
   * of waiting, live and silent, for a next row that may be long in coming.
   */
  onFeedFloorMoved(feed: TopicFeed, state: TopicState): void {
    const sub = this.subs.get(feed.topic);
    if (!sub || sub.feed !== feed || this.closed || sub.cursor >= state.retainedFrom - 1) return;
    void this.cursorPruned(sub, state)
      .then(() => {
        this.completePending();
        this.schedulePump();
      })
      .catch((error) => this.deps.onError?.(error));
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
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
    if (this.drainTimer || this.backlogTimer) return; // throttled or backlogged: the drain check resumes delivery
    this.pumping = true;
    try {
      for (;;) {
        this.pumpAgain = false;
        let progressed = false;
        const subs = [...this.subs.values()];
        const offset = subs.length ? this.round++ % subs.length : 0;
        for (let i = 0; i < subs.length; i++) {
          const sub = subs[(offset + i) % subs.length];
          if (this.closed || this.subs.get(sub.topic) !== sub) continue;
          const buffered = this.transport.bufferedAmount();
          if (buffered > this.options.bufferedAmountCap) {
            this.throttle(sub.topic);
            return;
          }
          if (buffered > this.backlogLimit && sub.target === Infinity && sub.cursor < Math.max(sub.feed.head, sub.knownHead)) {
            this.awaitBacklog(sub.topic);
            return;
          }
          if (await this.deliverOne(sub)) progressed = true;
        }
        this.completePending();
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
        if (this.frames) this.sendKhalaFrame(sub.topic, 'update_batch', chunk.protoBase64());
        else this.transport.send(chunk.frame(this.joinRef, (payload) => this.batchFrameText(payload)));
        this.deps.onBatchSent?.(chunk.rows.length);
        sub.cursor = chunk.to;
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
      const read = await this.deps.journal.readAfter(sub.topic, this.principal.orgId, cursor, maxUpdates);
      if (this.subs.get(sub.topic) !== sub || sub.cursor !== cursor || this.closed) return false;
      if (read.length === 0) {
        // Rows up to `available` were committed, yet none follows the cursor: unless this read
        // started before they committed, the floor moved past the cursor (a reset the feed saw
        // before this subscription attached to it). Only this rare case asks for the floor.
        if (available <= cursor) return false;
        const state = (await this.deps.journal.topicStates([sub.topic], this.principal.orgId)).get(sub.topic)!;
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
    if (this.frames) this.sendKhalaFrame(sub.topic, 'update_batch', batchProtoBase64(sub.topic, batch, replayComplete, head));
    else this.transport.send(this.batchFrameText(batchPayload(sub.topic, batch, replayComplete, head)));
    this.deps.onBatchSent?.(batch.length);
    sub.cursor = last;
    return true;
  }

  private batchFrameText(payload: string): string {
    return encodeFrameRaw(this.joinRef, null, SYNC_CHANNEL, 'sync:update_batch', payload);
  }

  /**
   * The journal no longer holds the row after this cursor (retention ran while it lagged, or a
   * reset moved the floor past it). `known` is the topic state when the caller already read it.
   */
  private async cursorPruned(sub: TopicSubscription, known?: TopicState): Promise<void> {
    const state = known ?? (await this.deps.journal.topicStates([sub.topic], this.principal.orgId)).get(sub.topic)!;
    const resolved = resolveTopic(sub.topic);
    const policy = (resolved && (await this.deps.journal.policy(resolved.policyKey))) || DEFAULT_POLICY;
    // Told once: the reset notice and a delivery attempt may both find the same pruned cursor.
    if (this.closed || this.subs.get(sub.topic) !== sub) return;
    this.deps.feeds.detach(sub.feed, this);
    this.subs.delete(sub.topic);
    for (const pending of this.pending) pending.waiting.delete(sub.topic);
    const payload = {
      code: 'stale_cursor',
      message: 'the journal no longer holds updates after this cursor',
      full_resync_required: true,
      reason_codes: ['retention_floor_breach'],
      stale_topics: [staleTopic(sub.topic, 'retention_floor_breach', sub.cursor, state.retainedFrom, state.head, policy)],
      snapshot_plan: {
        format: SNAPSHOT_FORMAT,
        topics: policy.hasSnapshot ? [snapshotPlanTopic(sub.topic, state.head)] : [],
      },
    };
    this.push('sync:error', 'sync_error', sub.topic, payload);
  }

  // ------------------------------------------------------------------ slow consumers

  private get backlogLimit(): number {
    return Math.min(COALESCE_BACKLOG_BYTES, this.options.bufferedAmountCap / 4);
  }

  /**
   * Live delivery pauses while the socket holds more than backlogLimit unflushed bytes; what arrives
   * meanwhile is sent coalesced when it drains. Past the cap, throttle() (with its strikes) applies;
   * a backlog that does not shrink at all for strikeMs (a client that stopped reading, whose small
   * frames would never reach the cap) is a strike too, so a stuck socket is still closed after the third.
   */
  private awaitBacklog(topic: string): void {
    if (this.backlogTimer || this.drainTimer) return;
    let since = Date.now();
    let lowest = this.transport.bufferedAmount();
    this.backlogTimer = setInterval(() => {
      if (this.closed) return this.stopBacklogWait();
      const buffered = this.transport.bufferedAmount();
      if (buffered < lowest) {
        lowest = buffered; // the client reads, if slowly: no strike
        since = Date.now();
      }
      if (buffered <= this.backlogLimit || buffered > this.options.bufferedAmountCap) {
        this.stopBacklogWait();
        this.schedulePump(); // delivers, or sees the overflow and throttles
      } else if (Date.now() - since >= this.options.strikeMs) {
        this.stopBacklogWait();
        this.throttle(topic);
      }
    }, DRAIN_CHECK_MS);
    this.backlogTimer.unref();
  }

  private stopBacklogWait(): void {
    clearInterval(this.backlogTimer);
    this.backlogTimer = undefined;
  }

  private throttle(topic: string): void {
    if (this.drainTimer) return;
    if (Date.now() - this.lastStrikeAt > STRIKE_MEMORY_MS) this.strikes = 0;
    this.strike(topic);
    if (this.closed) return;
    this.drainTimer = setInterval(() => {
      if (this.closed) return this.stopDrainCheck();
      if (this.transport.bufferedAmount() <= this.options.bufferedAmountCap / 2) {
        this.stopDrainCheck();
        this.schedulePump();
      } else if (Date.now() - this.lastStrikeAt >= this.options.strikeMs) {
        this.strike(topic);
      }
    }, DRAIN_CHECK_MS);
    this.drainTimer.unref();
  }

  private stopDrainCheck(): void {
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
  }

  private strike(topic: string): void {
    this.strikes += 1;
    this.lastStrikeAt = Date.now();
    const action = this.strikes >= 3 ? 'disconnect' : 'throttle';
    this.deps.onSlowConsumer?.(action);
    this.push('sync:error', 'slow_consumer', topic, {
      code: 'slow_consumer',
      message: action === 'disconnect' ? 'send queue overflowed three times; reconnect and resume' : 'send queue is full; delivery paused',
      action,
      topic,
      queue_depth: this.transport.bufferedAmount(),
      queue_limit: this.options.bufferedAmountCap,
      reconnect_after_ms: action === 'disconnect' ? 1000 + Math.floor(Math.random() * 1000) : 0,
      full_resync_required: false,
    });
    if (action === 'disconnect') this.close(CLOSE.slowConsumer, 'slow consumer');
  }

  // ------------------------------------------------------------------ pushes, lifecycle

  /** The periodic server heartbeat (§5): the watermarks delivered so far. */
  heartbeat(): void {
    if (!this.joined || this.closed) return;
    this.push('sync:heartbeat', 'heartbeat_reply', SYNC_CHANNEL, { watermarks: this.watermarks() });
  }

  /**
   * The session was revoked (§2). A socket that opened with an already revoked session and has not
   * joined yet learns it as its join's error reply (the spec's form), so the push is held back for
   * it; any other socket gets the sync:error push and is closed now.
   */
  revoke(reason: string): void {
    if (this.closed) return;
    if (this.joined) return this.revokeNow(reason);
    this.revokedReason ??= reason;
    void this.revokedAtOpen.then((atOpen) => {
      if (this.closed) return;
      // Joined meanwhile, or revoked only after the socket opened: a live revocation.
      if (this.joined || atOpen?.reason === undefined) return this.revokeNow(reason);
      this.revokedJoinTimer ??= setTimeout(() => this.close(CLOSE.reauth, 'reauth required'), REVOKED_JOIN_WAIT_MS);
      this.revokedJoinTimer.unref();
    });
  }

  private revokeNow(reason: string): void {
    if (this.closed) return;
    this.push('sync:error', 'sync_error', SYNC_CHANNEL, {
      code: 'reauth_required',
      message: 'the session of this token was revoked',
      reauth_required: true,
      reason,
    });
    this.close(CLOSE.reauth, 'reauth required');
  }

  /**
   * The sync token's `exp` passed: a socket lives no longer than the token that opened it, so a
   * stolen or downgraded token stops working on sockets too, not just on new connections.
   */
  expire(): void {
    if (this.closed) return;
    this.push('sync:error', 'sync_error', SYNC_CHANNEL, {
      code: 'token_expired',
      message: 'the sync token expired; connect again with a fresh token and resume from your watermarks',
      reauth_required: false,
    });
    this.close(CLOSE.tokenExpired, 'token expired');
  }

  /** The client kept sending while rate limited (§4): tell it why and disconnect. */
  floodClose(retryAfterMs: number): void {
    if (this.closed) return;
    this.push('sync:error', 'sync_error', SYNC_CHANNEL, {
      code: 'rate_limited',
      message: 'too many client events while rate limited; reconnect later',
      retry_after_ms: retryAfterMs,
      action: 'disconnect',
    });
    this.close(CLOSE.rateLimited, 'rate limited');
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.transport.close(code, reason);
  }

  /** The socket is gone: release feeds and timers. */
  dispose(): void {
    this.closed = true;
    clearTimeout(this.revokedJoinTimer);
    this.stopDrainCheck();
    this.stopBacklogWait();
    this.reset();
  }

  private push(event: string, kind: Exclude<KhalaFrameKind, 'update_batch'>, topic: string, payload: Record<string, unknown>): void {
    if (this.frames) this.sendKhalaFrame(topic, kind, pushProtoBase64(kind, payload));
    else this.transport.send(JSON.stringify([this.joinRef, null, SYNC_CHANNEL, event, payload]));
  }

  private sendKhalaFrame(topic: string, kind: KhalaFrameKind, payloadBase64: string): void {
    this.frameSeq += 1;
    this.transport.send(encodeFrameRaw(this.joinRef, null, SYNC_CHANNEL, 'sync:frame', khalaFrameJson(topic, this.frameSeq, kind, payloadBase64)));
  }

  private watermarks(): { topic: string; watermark: number }[] {
    return [...this.subs.values()].map((sub) => ({ topic: sub.topic, watermark: sub.cursor }));
  }
}

function refusal(topic: string): RefusedTopic {
  return { topic, code: 'forbidden_topic', message: FORBIDDEN_MESSAGE };
}

interface SubscribeRequest {
  topics: string[];
  resumeAfter: Map<string, number>;
  replayBatchSize: number;
  requestId?: string;
}

/** Validates a sync:subscribe payload (§4); every problem is bad_subscription and changes nothing. */
export function parseSubscribe(payload: Record<string, unknown>): SubscribeRequest {
  const topics = payload.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS) {
    throw new SyncError('bad_subscription', `topics must be a list of 1..${MAX_TOPICS} topic names`);
  }
  if (!topics.every((topic) => typeof topic === 'string' && topic.length > 0 && topic.length <= 256)) {
    throw new SyncError('bad_subscription', 'every topic must be a non-empty string');
  }
  const unique = [...new Set(topics as string[])];
  const resumeAfter = parseResumeAfter(payload.resume_after);
  for (const topic of resumeAfter.keys()) {
    if (!unique.includes(topic)) throw new SyncError('bad_subscription', `resume_after names ${topic}, which is not in topics`);
  }
  let replayBatchSize = MAX_BATCH_UPDATES;
  if (payload.replay_batch_size !== undefined && payload.replay_batch_size !== null) {
    const size = payload.replay_batch_size;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_BATCH_UPDATES) {
      throw new SyncError('bad_subscription', `replay_batch_size must be an integer 1..${MAX_BATCH_UPDATES}`);
    }
    replayBatchSize = size;
  }
  let requestId: string | undefined;
  if (payload.request_id !== undefined && payload.request_id !== null) {
    if (typeof payload.request_id !== 'string' || payload.request_id.length > 256) {
      throw new SyncError('bad_subscription', 'request_id must be a string of at most 256 characters');
    }
    requestId = payload.request_id;
  }
  return { topics: unique, resumeAfter, replayBatchSize, requestId };
}

function parseResumeAfter(value: unknown): Map<string, number> {
  const cursors = new Map<string, number>();
  if (value === undefined || value === null) return cursors;
  let entries: [unknown, unknown][];
  if (Array.isArray(value)) {
    entries = value.map((entry: unknown) =>
      entry !== null && typeof entry === 'object' && !Array.isArray(entry)
        ? [(entry as { topic?: unknown }).topic, (entry as { watermark?: unknown }).watermark]
        : [undefined, undefined],
    );
  } else if (typeof value === 'object') {
    entries = Object.entries(value as Record<string, unknown>);
  } else {
    throw new SyncError('bad_subscription', 'resume_after must be a map {topic: watermark} or a list [{topic, watermark}]');
  }
  for (const [topic, watermark] of entries) {
    const parsed = typeof watermark === 'string' && /^\d{1,16}$/.test(watermark) ? Number(watermark) : watermark;
    if (typeof topic !== 'string' || typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 0) {
      throw new SyncError('bad_subscription', 'resume_after watermarks must be non-negative integers');
    }
    if (cursors.has(topic)) throw new SyncError('bad_subscription', `resume_after names ${topic} twice`);
    cursors.set(topic, parsed);
  }
  return cursors;
}
