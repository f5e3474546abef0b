import { ApplyResult, classifyUpdate } from './apply';
import { backoffDelay, BackoffOptions } from './backoff';
import type { Frame, SnapshotDocument, SnapshotPage, SyncErrorPayload, TopicWatermark, Update, UpdateBatch } from './protocol';
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
  /** ws(s)://host/sync/socket/websocket */
  url: string;
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
  error: (error: SyncErrorPayload | Error) => void;
  /** A reconnect was scheduled after `delayMs` (never sooner than a server-given retry_after_ms / reconnect_after_ms). */
  reconnect_scheduled: (info: { delayMs: number; attempt: number }) => void;
}

type Listener<K extends keyof KhalaClientEvents> = KhalaClientEvents[K];

const SYNC = 'sync:v1';

/**
 * A sync:v1 client (khala-protocol.md §10): connects and joins, subscribes with persisted
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
  private readonly pending = new Map<string, (status: string, response: Record<string, unknown>) => void>();
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

  constructor(private readonly options: KhalaClientOptions) {
    this.store = options.store ?? new MemoryWatermarkStore();
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ws) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    this.WS = ws;
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

  /** Connects (and keeps reconnecting until stop()). Resolves once the first subscribe is live. */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve, reject) => {
      const offStatus = this.on('status', (status) => {
        if (status === 'live') {
          offStatus();
          offReauth();
          resolve();
        }
      });
      const offReauth = this.on('reauth_required', (reason) => {
        offStatus();
        offReauth();
        reject(new Error(`reauth required: ${reason}`));
      });
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
      this.emit('error', error as Error);
      return this.scheduleReconnect();
    }
    for (const topic of this.options.topics) {
      if (!this.lastApplied.has(topic)) {
        const stored = await this.store.get(topic);
        if (stored !== undefined) this.lastApplied.set(topic, stored);
      }
    }
    if (abandoned()) return;
    const separator = this.options.url.includes('?') ? '&' : '?';
    const socket = new this.WS(`${this.options.url}${separator}token=${encodeURIComponent(token)}&vsn=2.0.0`);
    this.socket = socket;
    socket.onopen = () => this.join();
    socket.onmessage = (event) => {
      const text = typeof event.data === 'string' ? event.data : String(event.data);
      let frame: Frame;
      try {
        frame = JSON.parse(text) as Frame;
      } catch {
        return;
      }
      this.work = this.work.then(() => this.onFrame(frame)).catch((error: Error) => this.emit('error', error));
    };
    socket.onerror = () => undefined;
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.heartbeatTimer);
      this.pending.clear();
      this.resyncing.clear();
      if (event.code === 4401) return; // reauth_required: handled by the sync:error push
      // Frames that arrived before the close (a rate_limited or slow_consumer push carrying the
      // server's delay) are handled first, so the reconnect honours them.
      const generation = this.generation;
      void this.work.then(() => {
        if (generation === this.generation) this.scheduleReconnect();
      });
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setStatus('reconnecting');
    const delay = Math.max(this.minReconnectDelayMs, backoffDelay(this.attempt, this.options.backoff ?? { initialMs: 250, maxMs: 30_000 }));
    this.minReconnectDelayMs = 0;
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.emit('reconnect_scheduled', { delayMs: delay, attempt: this.attempt });
  }

  private join(): void {
    const ref = this.push(SYNC, 'phx_join', {}, (status, response) => {
      if (status !== 'ok') return this.onJoinError(response as unknown as SyncErrorPayload);
      this.attempt = 0;
      this.setStatus('joined');
      this.startHeartbeats();
      void this.subscribe(this.options.topics);
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
      this.heartbeatRef = this.push('phoenix', 'heartbeat', {}, () => (this.heartbeatRef = undefined));
    }, this.options.heartbeatIntervalMs ?? 25_000);
  }

  private push(topic: string, event: string, payload: Record<string, unknown>, onReply?: (status: string, response: Record<string, unknown>) => void): string {
    const ref = String(++this.ref);
    // The join frame carries its own ref as join_ref (as the official Phoenix client does).
    const joinRef = event === 'phx_join' ? ref : topic === 'phoenix' ? null : this.joinRef;
    if (onReply) this.pending.set(ref, onReply);
    this.socket?.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  // ------------------------------------------------------------------ subscribe, apply

  private subscribe(topics: string[]): Promise<void> {
    return new Promise((resolve) => {
      const resumeAfter: TopicWatermark[] = topics
        .filter((topic) => this.lastApplied.has(topic))
        .map((topic) => ({ topic, watermark: this.lastApplied.get(topic)! }));
      const payload: Record<string, unknown> = { topics, resume_after: resumeAfter };
      if (this.options.replayBatchSize) payload.replay_batch_size = this.options.replayBatchSize;
      this.push(SYNC, 'sync:subscribe', payload, (status, response) => {
        for (const topic of topics) this.resyncing.delete(topic);
        if (status === 'ok') {
          const delivered = (response.current_watermarks as TopicWatermark[] | undefined) ?? [];
          // The server says it sent up to here; anything we did not apply is a gap.
          const gaps = delivered.filter(({ topic, watermark }) => watermark > this.watermark(topic)).map(({ topic }) => topic);
          if (gaps.length) this.resubscribe(gaps);
          else if (this.currentStatus === 'joined') this.setStatus('live');
        } else {
          void this.onSubscribeError(response as unknown as SyncErrorPayload, topics);
        }
        resolve();
      });
    });
  }

  private resubscribe(topics: string[]): void {
    for (const topic of topics) this.resyncing.add(topic);
    void this.subscribe(topics);
  }

  private async onSubscribeError(error: SyncErrorPayload, topics: string[]): Promise<void> {
    if (error.code === 'stale_cursor') return this.recoverStale(error);
    this.emit('error', error);
    if (error.code === 'rate_limited') {
      setTimeout(() => this.socket && void this.subscribe(topics), error.retry_after_ms ?? 1000);
    }
  }

  /** stale_cursor (§7): snapshot topics are rebuilt from the snapshot, others restart at the head. */
  private async recoverStale(error: SyncErrorPayload): Promise<void> {
    const planned = new Map((error.snapshot_plan?.topics ?? []).map((entry) => [entry.topic, entry]));
    const staleTopics = [...new Set((error.stale_topics ?? []).map((entry) => entry.topic))];
    for (const topic of staleTopics) {
      const entries = (error.stale_topics ?? []).filter((entry) => entry.topic === topic);
      const head = Math.max(...entries.map((entry) => entry.head_watermark));
      const reasons = entries.map((entry) => entry.reason);
      const plan = planned.get(topic);
      if (plan) {
        this.emit('resync', topic, 'snapshot', { head_watermark: head, reasons });
        const watermark = await this.bootstrapFromSnapshot(topic, plan.snapshot_url);
        await this.setApplied(topic, watermark);
      } else {
        this.emit('resync', topic, 'reset', { head_watermark: head, reasons });
        await this.setApplied(topic, head);
      }
    }
    if (staleTopics.length && this.socket) this.resubscribe(staleTopics);
  }

  private async bootstrapFromSnapshot(topic: string, snapshotUrl: string): Promise<number> {
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    const base = this.options.httpBaseUrl ?? new URL(this.options.url.replace(/^ws/, 'http')).origin;
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

  private async onFrame([, ref, , event, payload]: Frame): Promise<void> {
    if (event === 'phx_reply' && ref !== null) {
      const callback = this.pending.get(ref);
      this.pending.delete(ref);
      const reply = payload as { status: string; response: Record<string, unknown> };
      callback?.(reply.status, reply.response ?? {});
      return;
    }
    if (event === 'sync:update_batch') return this.applyBatch(payload as unknown as UpdateBatch);
    if (event === 'sync:error') return this.onSyncError(payload as unknown as SyncErrorPayload);
  }

  private async applyBatch(batch: UpdateBatch): Promise<void> {
    const gapped = new Set<string>();
    for (const update of batch.updates) {
      if (gapped.has(update.topic)) continue;
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
