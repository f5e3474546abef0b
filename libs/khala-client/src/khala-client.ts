import { ApplyResult, classifyUpdate } from './apply';
import { backoffDelay, BackoffOptions } from './backoff';
import { ABNORMAL_CLOSURE, GOING_AWAY, reconnectAfterMs } from './going-away';
import { ConnectionRefusedError, handshakeRefusalStatus, isRefusal } from './connection-refused';
// The one runtime piece of the contract the SDK uses; its build compiles it into the package.
import { encodeFrame, parsePhoenixFrame, PHOENIX_TOPIC, PhoenixMessage, SYNC_CHANNEL } from '@khala/contracts/sync/phoenix-frame';
import type { RefusedTopic, SnapshotDocument, SnapshotPage, SubscribeReply, SyncErrorPayload, TopicWatermark, Update, UpdateBatch } from './protocol';
import { ResubscribeBudget, ResubscribeLimit } from './resubscribe-budget';
import { MemoryWatermarkStore, WatermarkStore } from './watermark-store';

/** The subset of the WHATWG WebSocket both browsers and the `ws` package provide. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type ClientStatus = 'idle' | 'connecting' | 'joined' | 'live' | 'reconnecting' | 'stopped';

export interface KhalaClientOptions {
  /**
   * ws(s)://host/sync/socket/websocket, or several gateway instances' URLs: the client starts with
   * the first and moves to the next when its instance goes away (close 1001), drops the socket
   * abnormally (1006) or cannot be reached. Watermarks resume on any instance.
   */
  url: string | readonly string[];
  /** A fresh sync token (called on every connect, so short-lived tokens are fine). */
  token: () => string | Promise<string>;
  topics: string[];
  store?: WatermarkStore;
  /** Defaults to globalThis.WebSocket (browsers, Node 22); pass `ws` in Node 20. */
  WebSocket?: WebSocketConstructor;
  /** For snapshot bootstrap; defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Base URL snapshot_url paths resolve against; defaults to the socket URL's origin over http(s). */
  httpBaseUrl?: string;
  /** Phoenix heartbeat interval; must stay under the server's 60 s idle timeout. */
  heartbeatIntervalMs?: number;
  backoff?: BackoffOptions;
  replayBatchSize?: number;
  snapshotPageSize?: number;
  /**
   * At most `max` resubscribes of one topic within `windowMs` (default 10 per 60 s). Past it the
   * topic is halted: an `error` event `{code: 'resubscribe_limit', topic}` names it, the client
   * unsubscribes it and leaves it alone until the next start().
   */
  resubscribeLimit?: ResubscribeLimit;
}

export interface KhalaClientEvents {
  /** An update applied in order (result is always Advanced here). */
  update: (update: Update) => void;
  /** A topic is being rebuilt: 'snapshot' (documents follow) or 'reset' (no snapshot; history between was skipped). */
  resync: (topic: string, mode: 'snapshot' | 'reset', info: { head_watermark: number; reasons: string[] }) => void;
  snapshot_document: (topic: string, document: SnapshotDocument) => void;
  /** Every applied/dropped update with what applying it did (for metrics and tests). */
  applied: (update: Update, result: ApplyResult) => void;
  status: (status: ClientStatus) => void;
  /** The session was revoked: get a new login; the client stopped. */
  reauth_required: (reason: string) => void;
  /**
   * Anything that went wrong. Errors about one topic carry `topic`: `forbidden_topic` (refused by
   * the server; retried on the next connection), `resubscribe_limit` (halted until start()). A
   * ConnectionRefusedError (`code: 'connection_refused'`, `status` 401/403) means the client stopped.
   */
  error: (error: SyncErrorPayload | Error) => void;
  /**
   * A reconnect was scheduled after `delayMs` (never sooner than a server-given retry_after_ms /
   * reconnect_after_ms) to `url`. `goingAway`: the instance shut down (close 1001); that costs no
   * backoff attempt.
   */
  reconnect_scheduled: (info: { delayMs: number; attempt: number; url: string; goingAway?: true }) => void;
}

type Listener<K extends keyof KhalaClientEvents> = KhalaClientEvents[K];

/**
 * A sync:v1 client (docs/protocol/README.md §10): connects and joins, subscribes with persisted
 * watermarks, applies updates idempotently by (topic, watermark), re-subscribes on a gap,
 * bootstraps from the snapshot on stale_cursor, reconnects with jittered exponential backoff and
 * sends heartbeats.
 */
export class KhalaClient {
  private readonly store: WatermarkStore;
  private readonly WS: WebSocketConstructor;
  private readonly listeners = new Map<keyof KhalaClientEvents, Set<(...args: never[]) => void>>();
  private readonly lastApplied = new Map<string, number>();
  /** Topics with a re-subscribe in flight: later out-of-order updates are expected, not new gaps. */
  private readonly resyncing = new Set<string>();
  /**
   * Topics subscribed without a cursor, until the reply says where their retained stream starts
   * (retained_from): their updates, which arrive before the reply, wait here, then apply in order.
   */
  private readonly awaitingBase = new Map<string, Update[]>();
  /** Topics the server refused on this connection (tried again on the next one). */
  private readonly refused = new Set<string>();
  /** Topics past the resubscribe limit (until the next start()). */
  private readonly halted = new Set<string>();
  private readonly budget: ResubscribeBudget;
  private startWaiter?: { resolve: () => void; reject: (error: Error) => void };
  private readonly pending = new Map<string, (status: string, response: Record<string, unknown>) => void | Promise<void>>();
  private socket?: WebSocketLike;
  private joinRef: string | null = null;
  private ref = 0;
  private attempt = 0;
  private stopped = false;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private heartbeatRef?: string;
  private minReconnectDelayMs = 0;
  /** Bumped by stop(): a connect() that awaited across a stop() must not open a socket. */
  private generation = 0;
  private work: Promise<void> = Promise.resolve();
  private currentStatus: ClientStatus = 'idle';
  private readonly urls: readonly string[];
  private urlIndex = 0;

  constructor(private readonly options: KhalaClientOptions) {
    this.store = options.store ?? new MemoryWatermarkStore();
    this.budget = new ResubscribeBudget(options.resubscribeLimit);
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    this.WS = ws;
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.urls.length === 0) throw new Error('options.url names no gateway');
  }

  /** The gateway URL the client connects (or will reconnect) to. */
  get url(): string {
    return this.urls[this.urlIndex];
  }

  get status(): ClientStatus {
    return this.currentStatus;
  }

  /** Last applied watermark per topic. */
  watermark(topic: string): number {
    return this.lastApplied.get(topic) ?? 0;
  }

  on<K extends keyof KhalaClientEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (...args: never[]) => void);
    return () => set.delete(listener as (...args: never[]) => void);
  }

  /**
   * Connects (and keeps reconnecting until stop()). Resolves once the first subscribe is live for
   * the topics the server allowed (refused ones are reported as `error` events naming the topic);
   * rejects, and stops the client, when none of the topics could be subscribed, on reauth, or when
   * the gateway refuses the connection (a ConnectionRefusedError: HTTP 401/403 at the handshake,
   * or token() gave no token), which is also an `error` event.
   */
  start(): Promise<void> {
    this.stopped = false;
    this.halted.clear();
    this.budget.clear();
    return new Promise((resolve, reject) => {
      const settle = () => {
        offStatus();
        offReauth();
        this.startWaiter = undefined;
      };
      const offStatus = this.on('status', (status) => {
        if (status === 'live') {
          settle();
          resolve();
        }
      });
      const offReauth = this.on('reauth_required', (reason) => {
        settle();
        reject(new Error(`reauth required: ${reason}`));
      });
      this.startWaiter = {
        resolve,
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      void this.connect();
    });
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    this.socket?.close(1000, 'client stopped');
    this.setStatus('stopped');
  }

  /** Drops the connection as a network failure would; the client reconnects and resumes. */
  dropConnection(): void {
    this.socket?.close(4000, 'dropped by client');
  }

  // ------------------------------------------------------------------ connection

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = this.generation;
    // stop() may run while we await the token or the store; then this attempt is abandoned.
    const abandoned = () => this.stopped || generation !== this.generation;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let token: string;
    try {
      token = await this.options.token();
    } catch (error) {
      if (abandoned()) return;
      // token() may say its own endpoint refused (401/403): retrying would not change that.
      if (isRefusal(error)) return this.refuse(error);
      this.emit('error', error as Error);
      return this.scheduleReconnect();
    }
    if (abandoned()) return;
    if (typeof token !== 'string' || token === '') {
      return this.refuse(new ConnectionRefusedError(0, `token() gave no token (${token === '' ? 'an empty string' : typeof token}); no connection was attempted`));
    }
    for (const topic of this.options.topics) {
      if (!this.lastApplied.has(topic)) {
        const stored = await this.store.get(topic);
        if (stored !== undefined) this.lastApplied.set(topic, stored);
      }
    }
    if (abandoned()) return;
    const separator = this.url.includes('?') ? '&' : '?';
    const socket = new this.WS(`${this.url}${separator}token=${encodeURIComponent(token)}&vsn=2.0.0`);
    this.socket = socket;
    let opened = false;
    let failure: unknown;
    socket.onopen = () => {
      opened = true;
      this.join();
    };
    socket.onmessage = (event) => {
      const text = typeof event.data === 'string' ? event.data : String(event.data);
      const parsed = parsePhoenixFrame(text);
      if (!parsed.ok) return;
      this.work = this.work.then(() => this.onFrame(parsed.message)).catch((error: Error) => this.emit('error', error));
    };
    socket.onerror = (event) => (failure = event);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (!opened) return this.onHandshakeFailed(failure, event);
      clearInterval(this.heartbeatTimer);
      this.pending.clear();
      this.resyncing.clear();
      this.awaitingBase.clear();
      if (event.code === 4401) return; // reauth_required: handled by the sync:error push
      const goingAway = event.code === GOING_AWAY ? { delayMs: reconnectAfterMs(event.reason) } : undefined;
      // This instance is gone or going: another one serves the same watermarks.
      if (goingAway || event.code === ABNORMAL_CLOSURE) this.nextUrl();
      // Frames that arrived before the close (a rate_limited or slow_consumer push carrying the
      // server's delay) are handled first, so the reconnect honours them and resumes after them.
      const generation = this.generation;
      void this.work.then(() => {
        if (generation === this.generation) this.scheduleReconnect(goingAway);
      });
    };
  }

  /** The socket closed before it opened: a refusal stops the client, anything else is retried. */
  private onHandshakeFailed(failure: unknown, close: { code: number; reason: string }): void {
    const status = handshakeRefusalStatus(failure);
    if (status !== undefined) {
      const why = status === 401 ? 'the sync token is missing, invalid or expired' : 'this Origin may not open sync sockets';
      return this.refuse(new ConnectionRefusedError(status, `the gateway refused the connection with HTTP ${status}: ${why}`));
    }
    const detail = (failure as { message?: unknown } | undefined)?.message;
    this.emit('error', new Error(`could not open the sync socket (close ${close.code}${typeof detail === 'string' && detail ? `: ${detail}` : ''})`));
    this.nextUrl();
    this.scheduleReconnect();
  }

  /** Reconnecting cannot fix a refusal: report it, fail start(), stop. */
  private refuse(error: Error): void {
    this.emit('error', error);
    this.startWaiter?.reject(error);
    this.stop();
  }

  /**
   * `goingAway`: the server closed with 1001 (it is shutting down, docs/protocol/README.md §9). That
   * is no failure of this client or link, so the delay is the server's hint (0: now) and the backoff
   * does not grow.
   */
  private scheduleReconnect(goingAway?: { delayMs: number }): void {
    if (this.stopped) return;
    this.setStatus('reconnecting');
    const wanted = goingAway ? goingAway.delayMs : backoffDelay(this.attempt, this.options.backoff ?? { initialMs: 250, maxMs: 30_000 });
    const delay = Math.max(this.minReconnectDelayMs, wanted);
    this.minReconnectDelayMs = 0;
    if (!goingAway) this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.emit('reconnect_scheduled', { delayMs: delay, attempt: this.attempt, url: this.url, ...(goingAway && { goingAway: true as const }) });
  }

  private nextUrl(): void {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
  }

  private join(): void {
    const ref = this.push(SYNC_CHANNEL, 'phx_join', {}, (status, response) => {
      if (status !== 'ok') return this.onJoinError(response as unknown as SyncErrorPayload);
      this.attempt = 0;
      this.refused.clear();
      this.setStatus('joined');
      this.startHeartbeats();
      this.subscribe(this.options.topics.filter((topic) => !this.halted.has(topic)));
    });
    this.joinRef = ref;
  }

  private onJoinError(error: SyncErrorPayload): void {
    this.emit('error', error);
    if (error.code === 'reauth_required') {
      this.emit('reauth_required', error.reason ?? 'reauth_required');
      this.stop();
    } else {
      this.socket?.close(4000, 'join failed');
    }
  }

  private startHeartbeats(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatRef = undefined;
    this.heartbeatTimer = setInterval(() => {
      // The previous heartbeat got no reply within a whole interval: the link is dead.
      if (this.heartbeatRef !== undefined) return this.socket?.close(4000, 'heartbeat timeout');
      this.heartbeatRef = this.push(PHOENIX_TOPIC, 'heartbeat', {}, () => (this.heartbeatRef = undefined));
    }, this.options.heartbeatIntervalMs ?? 25_000);
  }

  private push(
    topic: string,
    event: string,
    payload: Record<string, unknown>,
    onReply?: (status: string, response: Record<string, unknown>) => void | Promise<void>,
  ): string {
    const ref = String(++this.ref);
    // The join frame carries its own ref as join_ref (as the official Phoenix client does).
    const joinRef = event === 'phx_join' ? ref : topic === PHOENIX_TOPIC ? null : this.joinRef;
    if (onReply) this.pending.set(ref, onReply);
    this.socket?.send(encodeFrame(joinRef, ref, topic, event, payload));
    return ref;
  }

  // ------------------------------------------------------------------ subscribe, apply

  private subscribe(topics: string[]): void {
    if (topics.length === 0) return;
    const resumeAfter: TopicWatermark[] = topics
      .filter((topic) => this.lastApplied.has(topic))
      .map((topic) => ({ topic, watermark: this.lastApplied.get(topic)! }));
    for (const topic of topics) if (!this.lastApplied.has(topic) && !this.awaitingBase.has(topic)) this.awaitingBase.set(topic, []);
    const payload: Record<string, unknown> = { topics, resume_after: resumeAfter };
    if (this.options.replayBatchSize) payload.replay_batch_size = this.options.replayBatchSize;
    this.push(SYNC_CHANNEL, 'sync:subscribe', payload, (status, response) => {
      for (const topic of topics) this.resyncing.delete(topic);
      if (status === 'ok') return this.onSubscribed(topics, response as unknown as SubscribeReply);
      return this.onSubscribeError(response as unknown as SyncErrorPayload, topics);
    });
  }

  /**
   * Subscribes again from the last applied watermarks, within the resubscribe budget: a topic past
   * it is halted (error event, unsubscribed) instead of looping.
   */
  private resubscribe(topics: string[], delayMs = 0): void {
    const again = topics.filter((topic) => !this.halted.has(topic) && !this.refused.has(topic) && this.takeBudget(topic));
    if (again.length === 0) return;
    for (const topic of again) this.resyncing.add(topic);
    if (delayMs === 0) return this.subscribe(again);
    const socket = this.socket;
    setTimeout(() => socket && this.socket === socket && this.subscribe(again), delayMs);
  }

  private takeBudget(topic: string): boolean {
    if (this.budget.take(topic)) return true;
    const limit = this.options.resubscribeLimit;
    this.halted.add(topic);
    this.awaitingBase.delete(topic);
    this.resyncing.delete(topic);
    this.emit('error', {
      code: 'resubscribe_limit',
      message: `${topic} was resubscribed ${limit?.max ?? 10} times within ${limit?.windowMs ?? 60_000} ms; it is halted until start()`,
      topic,
    });
    if (this.socket) this.push(SYNC_CHANNEL, 'sync:unsubscribe', { topics: [topic] });
    this.failStartIfNothingLeft();
    return false;
  }

  private async onSubscribed(topics: string[], reply: SubscribeReply): Promise<void> {
    this.refuseTopics(reply.refused_topics);
    const delivered = reply.current_watermarks ?? [];
    const retainedFrom = new Map((reply.retained_from ?? []).map(({ topic, watermark }) => [topic, watermark]));
    for (const topic of topics) {
      const held = this.awaitingBase.get(topic);
      if (!held) continue;
      this.awaitingBase.delete(topic);
      if (this.refused.has(topic) || this.halted.has(topic)) continue;
      // The server replays a topic without a cursor from its retained start; a server that does not
      // say where that is still started there, so the first update it sent marks it.
      const start = retainedFrom.get(topic) ?? held[0]?.watermark ?? (delivered.find((entry) => entry.topic === topic)?.watermark ?? 0) + 1;
      await this.setApplied(topic, Math.max(0, start - 1));
      for (const update of held) await this.applyOne(update, new Set());
    }
    // The server says it sent up to here; anything we did not apply is a gap.
    const gaps = delivered.filter(({ topic, watermark }) => watermark > this.watermark(topic)).map(({ topic }) => topic);
    if (gaps.length) this.resubscribe(gaps);
    // Live once no topic waits for a resubscribe (a halted topic no longer does).
    if (this.currentStatus === 'joined' && this.resyncing.size === 0) this.setStatus('live');
  }

  private async onSubscribeError(error: SyncErrorPayload, topics: string[]): Promise<void> {
    for (const topic of topics) if (!this.lastApplied.has(topic)) this.awaitingBase.delete(topic);
    switch (error.code) {
      case 'stale_cursor':
        return this.recoverStale(error, topics);
      case 'forbidden_topic':
        // Every topic of the request was refused.
        return this.refuseTopics(error.refused_topics ?? (error.forbidden_topics ?? topics).map((topic) => ({ topic, code: error.code, message: error.message ?? '' })));
      case 'bad_subscription':
        if (error.topics?.length) {
          // Cursors ahead of the server's head: this store does not belong to this server's
          // sequences (a restored backup, another deployment). Start those topics over.
          this.refuseTopics(error.refused_topics);
          for (const topic of error.topics) {
            this.emit('resync', topic, 'reset', { head_watermark: 0, reasons: ['cursor_ahead'] });
            this.lastApplied.delete(topic);
          }
          return this.resubscribe(topics);
        }
        this.emit('error', error);
        return this.refuseTopics(topics.map((topic) => ({ topic, code: error.code, message: error.message ?? '' })));
      case 'rate_limited':
        this.emit('error', error);
        return this.resubscribe(topics, error.retry_after_ms ?? 1000);
      default:
        this.emit('error', error);
        return this.resubscribe(topics, 1000);
    }
  }

  /** Topics the server would not subscribe: each is an `error` event naming it, and is left alone on this connection. */
  private refuseTopics(refused: RefusedTopic[] | undefined): void {
    for (const entry of refused ?? []) {
      if (this.refused.has(entry.topic)) continue;
      this.refused.add(entry.topic);
      this.awaitingBase.delete(entry.topic);
      this.resyncing.delete(entry.topic);
      this.emit('error', { code: entry.code, message: entry.message, topic: entry.topic });
    }
    this.failStartIfNothingLeft();
  }

  /** start() rejects (and the client stops) once no topic can be subscribed. */
  private failStartIfNothingLeft(): void {
    if (!this.startWaiter) return;
    const failed = this.options.topics.filter((topic) => this.refused.has(topic) || this.halted.has(topic));
    if (failed.length < this.options.topics.length) return;
    this.startWaiter.reject(new Error(`no topic could be subscribed: ${failed.join(', ')}`));
    this.stop();
  }

  /**
   * stale_cursor (docs/protocol/README.md §5.1): snapshot topics are rebuilt from the snapshot, others restart at the head;
   * then the topics of the refused request (`requestTopics`, all of them, not just the stale ones)
   * are subscribed again.
   */
  private async recoverStale(error: SyncErrorPayload, requestTopics: string[] = []): Promise<void> {
    this.refuseTopics(error.refused_topics);
    const planned = new Map((error.snapshot_plan?.topics ?? []).map((entry) => [entry.topic, entry]));
    const staleTopics = [...new Set((error.stale_topics ?? []).map((entry) => entry.topic))];
    for (const topic of staleTopics) {
      this.awaitingBase.delete(topic);
      if (this.halted.has(topic)) continue;
      const entries = (error.stale_topics ?? []).filter((entry) => entry.topic === topic);
      const head = Math.max(...entries.map((entry) => entry.head_watermark));
      const reasons = entries.map((entry) => entry.reason);
      const plan = planned.get(topic);
      if (plan) {
        this.emit('resync', topic, 'snapshot', { head_watermark: head, reasons });
        try {
          const watermark = await this.bootstrapFromSnapshot(topic, plan.snapshot_url);
          await this.setApplied(topic, watermark);
        } catch (failure) {
          // Subscribing again asks for the snapshot plan again, within the resubscribe budget.
          this.emit('error', failure as Error);
        }
      } else {
        this.emit('resync', topic, 'reset', { head_watermark: head, reasons });
        await this.setApplied(topic, head);
      }
    }
    const again = [...new Set([...staleTopics, ...requestTopics])];
    if (again.length && this.socket) this.resubscribe(again);
  }

  private async bootstrapFromSnapshot(topic: string, snapshotUrl: string): Promise<number> {
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    const base = this.options.httpBaseUrl ?? new URL(this.url.replace(/^ws/, 'http')).origin;
    const token = await this.options.token();
    let pageToken: string | undefined;
    let watermark = 0;
    do {
      const url = new URL(snapshotUrl, base);
      if (pageToken) url.searchParams.set('page_token', pageToken);
      if (this.options.snapshotPageSize) url.searchParams.set('page_size', String(this.options.snapshotPageSize));
      const response = await fetchImpl(url, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`snapshot of ${topic} failed with HTTP ${response.status}`);
      const page = (await response.json()) as SnapshotPage;
      watermark = page.watermark;
      for (const document of page.documents) this.emit('snapshot_document', topic, document);
      pageToken = page.next_page_token ?? undefined;
    } while (pageToken);
    return watermark;
  }

  private async onFrame({ ref, event, payload }: PhoenixMessage): Promise<void> {
    if (event === 'phx_reply' && ref !== null) {
      const callback = this.pending.get(ref);
      this.pending.delete(ref);
      const reply = payload as { status: string; response: Record<string, unknown> };
      await callback?.(reply.status, reply.response ?? {});
      return;
    }
    if (event === 'sync:update_batch') return this.applyBatch(payload as unknown as UpdateBatch);
    if (event === 'sync:error') return this.onSyncError(payload as unknown as SyncErrorPayload);
  }

  private async applyBatch(batch: UpdateBatch): Promise<void> {
    const gapped = new Set<string>();
    for (const update of batch.updates) {
      const held = this.awaitingBase.get(update.topic);
      if (held) held.push(update);
      else if (!this.halted.has(update.topic)) await this.applyOne(update, gapped);
    }
  }

  /** Applies one update in order; a gap (once per topic and batch) resubscribes from the last applied watermark. */
  private async applyOne(update: Update, gapped: Set<string>): Promise<void> {
    if (gapped.has(update.topic)) return;
    const result = classifyUpdate(this.watermark(update.topic), update.watermark);
    this.emit('applied', update, result);
    if (result === ApplyResult.Advanced) {
      await this.setApplied(update.topic, update.watermark);
      this.emit('update', update);
    } else if (result === ApplyResult.OutOfOrder) {
      gapped.add(update.topic);
      if (!this.resyncing.has(update.topic)) this.resubscribe([update.topic]);
    }
  }

  private async onSyncError(error: SyncErrorPayload): Promise<void> {
    switch (error.code) {
      case 'reauth_required':
        this.emit('reauth_required', error.reason ?? 'reauth_required');
        this.stop();
        return;
      case 'slow_consumer':
        if (error.action === 'disconnect') this.minReconnectDelayMs = error.reconnect_after_ms ?? 1000;
        this.emit('error', error);
        return;
      case 'rate_limited':
        // The flood close (4428) follows this push: come back no sooner than the server asked.
        if (error.action === 'disconnect') this.minReconnectDelayMs = Math.max(this.minReconnectDelayMs, error.retry_after_ms ?? 1000);
        this.emit('error', error);
        return;
      case 'stale_cursor':
        return this.recoverStale(error);
      default:
        this.emit('error', error);
    }
  }

  private async setApplied(topic: string, watermark: number): Promise<void> {
    this.lastApplied.set(topic, watermark);
    await this.store.set(topic, watermark);
  }

  private setStatus(status: ClientStatus): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.emit('status', status);
  }

  private emit<K extends keyof KhalaClientEvents>(event: K, ...args: Parameters<KhalaClientEvents[K]>): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as unknown as (...a: Parameters<KhalaClientEvents[K]>) => void)(...args);
  }
}
