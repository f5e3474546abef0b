import { randomUUID } from 'node:crypto';
import type { SyncPrincipal } from '@khala/auth';
import { isTopicClass, PhoenixMessage, RefusedTopic, replyFrame, resolveTopic, SYNC_CHANNEL, SyncErrorPayload } from '@khala/contracts';
import { SyncError } from '../sync.error';
import { Backpressure, StrikeAction } from './backpressure';
import { TopicDelivery } from './delivery';
import { encoderForJoin, FrameEncoder, phoenixPushes, PushKind } from './frame-encoder';
import { PendingSubscribe, PendingSubscribes } from './pending-subscribes';
import { DEFAULT_POLICY, planTopic, STALE_CURSOR_MESSAGE, staleCursorDetails, staleCursorPush, subscribeVerdict, TopicPlan } from './resume-plan';
import { CLOSE, SessionDeps, SessionOptions, SessionTransport } from './session-ports';
import { MAX_TOPICS, parseSubscribe, parseUnsubscribe } from './subscribe-request';
import { decideAccess, entityRef, EntityTopic, refusal } from './topic-access';

/** A socket opened with an already revoked session is closed this long after the revocation is seen if it never joins. */
const REVOKED_JOIN_WAIT_MS = 5_000;

/**
 * One client's sync:v1 state (docs/protocol/README.md): the Phoenix dispatch (join, leave, subscribe,
 * unsubscribe, heartbeats) and the pushes that end a session (revocation, expiry, flood). What is
 * sent to each topic is TopicDelivery's; how frames look is the FrameEncoder chosen at join.
 */
export class SyncSession {
  readonly subscriptionId = randomUUID();
  lastActivityAt = Date.now();
  private joined = false;
  /** Plain pushes until a join asks for KhalaFrames. */
  private encoder: FrameEncoder = phoenixPushes(null);
  /** KhalaFrame sequence of this connection (not reset by a second join). */
  private frameSeq = 0;
  private readonly pending = new PendingSubscribes();
  private readonly backpressure: Backpressure;
  private readonly delivery: TopicDelivery;
  private control: Promise<void> = Promise.resolve();
  private closed = false;
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
    options: SessionOptions,
  ) {
    this.revokedAtOpen = deps.revocationReason(principal.sessionId).then(
      (reason) => ({ reason }),
      () => undefined,
    );
    this.backpressure = new Backpressure(transport, options, {
      isClosed: () => this.closed,
      resume: () => this.delivery.schedule(),
      strike: (topic, action, push) => this.onStrike(topic, action, push),
    });
    this.delivery = new TopicDelivery(deps, transport, this.backpressure, {
      orgId: principal.orgId,
      encoder: () => this.encoder,
      isClosed: () => this.closed,
      completePending: () => this.completePending(),
      forgetTopic: (topic) => this.pending.forget(topic),
    });
  }

  get sessionId(): string {
    return this.principal.sessionId;
  }

  /** Topics this session is subscribed to now (the gateway's subscriptions gauge sums them at scrape). */
  get subscriptionCount(): number {
    return this.delivery.subscriptions.size;
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
      this.transport.send(replyFrame(message, 'ok', { subscription_id: this.subscriptionId, watermarks: this.delivery.watermarks() }));
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
    const payload = error.toPayload();
    if (payload.code === 'stale_cursor') this.deps.onStaleCursor?.(payload.reason_codes as string[]);
    this.transport.send(replyFrame(message, 'error', payload));
  }

  // ------------------------------------------------------------------ join / leave

  private async join(message: PhoenixMessage): Promise<void> {
    if (message.topic !== SYNC_CHANNEL) throw new SyncError('bad_topic', `only ${SYNC_CHANNEL} can be joined`);
    const revoked = this.revokedReason ?? (await this.revokedAtOpen)?.reason ?? (await this.deps.revocationReason(this.principal.sessionId));
    if (revoked !== undefined) {
      // §2: the join of a revoked session fails with reauth_required; nothing more can happen here.
      this.deps.onJoinRefused?.('session_revoked');
      this.replyError(message, new SyncError('reauth_required', 'the session of this token was revoked', { reauth_required: true, reason: revoked }));
      return this.close(CLOSE.reauth, 'reauth required');
    }
    // A second join on the same socket replaces the first (as a Phoenix server does).
    this.reset();
    this.joined = true;
    this.encoder = encoderForJoin(message.payload, message.joinRef ?? message.ref, () => ++this.frameSeq);
    this.transport.send(
      replyFrame(message, 'ok', {
        subscription_id: this.subscriptionId,
        allowed_topics: this.principal.scopes.filter(isTopicClass),
        current_watermarks: [],
      }),
    );
  }

  private reset(): void {
    this.delivery.clear();
    this.pending.clear();
  }

  // ------------------------------------------------------------------ subscribe

  /**
   * Subscribes the allowed topics of one request and reports the others per topic (§4). Entity
   * topics the projections do not show yet are waited for (bounded, EntityOwnership); meanwhile the
   * other topics already replay, and the reply follows once every topic has its verdict.
   */
  private async subscribe(message: PhoenixMessage): Promise<void> {
    const request = parseSubscribe(message.payload);
    const total = new Set([...this.delivery.subscriptions.keys(), ...request.topics]).size;
    if (total > MAX_TOPICS) {
      throw new SyncError('bad_subscription', `a connection may subscribe to at most ${MAX_TOPICS} topics`, { max_topics: MAX_TOPICS });
    }
    const access = await decideAccess(request.topics, this.principal, this.deps.ownership);
    const { ready, refused } = access;
    let late = access.late;
    if (ready.length === 0 && late.length > 0) {
      // Nothing to start meanwhile: wait for every verdict (an all-refused request stays one error).
      const owned = await Promise.all(late.map((topic) => this.deps.ownership.waitFor(entityRef(topic, this.principal.orgId))));
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

    const verdict = subscribeVerdict(await this.planTopics(ready.map((topic) => topic.topic), request.resumeAfter));
    if (verdict.kind === 'ahead') {
      throw new SyncError('bad_subscription', 'resume_after is ahead of the head watermark', { topics: verdict.topics, ...refusedNow });
    }
    if (verdict.kind === 'stale') {
      throw new SyncError('stale_cursor', STALE_CURSOR_MESSAGE, { ...staleCursorDetails(verdict.plans), ...refusedNow });
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
    for (const plan of verdict.replays) this.startTopic(pending, plan, request.replayBatchSize);
    this.pending.add(pending);
    this.completePending();
    this.delivery.schedule();
    if (late.length === 0) return;

    // Each late topic starts as soon as its own verdict is in; a foreign id delays only the reply.
    await Promise.all(late.map((topic) => this.decideLate(pending, topic, request.resumeAfter, request.replayBatchSize)));
    byRequestOrder(pending.refused);
    this.completePending();
    this.delivery.schedule();
  }

  /** One entity topic of a subscribe whose other topics already started: started, refused, or told it is stale. */
  private async decideLate(pending: PendingSubscribe, topic: EntityTopic, resumeAfter: Map<string, number>, batchSize: number): Promise<void> {
    try {
      const owned = await this.deps.ownership.waitFor(entityRef(topic, this.principal.orgId));
      if (this.closed || !this.pending.has(pending)) return;
      if (!owned) {
        pending.refused.push(refusal(topic.topic));
        return;
      }
      const [plan] = await this.planTopics([topic.topic], resumeAfter);
      if (this.closed || !this.pending.has(pending)) return;
      if (plan.kind === 'replay') this.startTopic(pending, plan, batchSize);
      else if (plan.kind === 'ahead') pending.refused.push({ topic: topic.topic, code: 'bad_subscription', message: 'resume_after is ahead of the head watermark' });
      // The other topics are already subscribed, so this one learns it as a push (as a cursor pruned mid-replay does).
      else {
        const push = staleCursorPush(plan);
        this.deps.onStaleCursor?.(push.reason_codes ?? []);
        this.push('sync:error', 'sync_error', topic.topic, push);
      }
    } finally {
      pending.deciding -= 1;
    }
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
    pending.waiting.set(plan.topic, this.delivery.start(plan, batchSize));
    pending.retainedFrom.set(plan.topic, plan.retainedFrom);
  }

  private unsubscribe(message: PhoenixMessage): void {
    for (const topic of parseUnsubscribe(message.payload)) this.delivery.stop(topic);
    this.transport.send(replyFrame(message, 'ok', { subscription_id: this.subscriptionId, topics: [...this.delivery.subscriptions.keys()] }));
    this.completePending();
  }

  /** Replies to every subscribe whose replay reached its target, then lets those topics go live. */
  private completePending(): void {
    for (const { message, reply } of this.pending.complete(this.delivery.subscriptions, this.subscriptionId)) {
      this.transport.send(replyFrame(message, 'ok', reply));
      this.delivery.schedule();
    }
  }

  // ------------------------------------------------------------------ pushes, lifecycle

  private onStrike(topic: string, action: StrikeAction, push: SyncErrorPayload): void {
    this.deps.onSlowConsumer?.(action);
    this.push('sync:error', 'slow_consumer', topic, push);
    if (action === 'disconnect') this.close(CLOSE.slowConsumer, 'slow consumer');
  }

  /** The periodic server heartbeat (§5): the watermarks delivered so far. */
  heartbeat(): void {
    if (!this.joined || this.closed) return;
    this.push('sync:heartbeat', 'heartbeat_reply', SYNC_CHANNEL, { watermarks: this.delivery.watermarks() });
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
    this.backpressure.stop();
    this.reset();
  }

  private push(event: string, kind: PushKind, topic: string, payload: Record<string, unknown>): void {
    this.transport.send(this.encoder.push(event, kind, topic, payload));
  }
}
