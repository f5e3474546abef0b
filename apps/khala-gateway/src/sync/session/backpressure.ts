import type { SyncErrorPayload } from '@khala/contracts';
import type { SessionOptions, SessionTransport } from './session-ports';

/** Strikes forgotten after this long without an overflow. */
export const STRIKE_MEMORY_MS = 60_000;
const DRAIN_CHECK_MS = 20;
/**
 * Unflushed bytes above which a live subscription stops taking each new chunk as it comes: the
 * socket is not keeping up, so the rows pending for it wait and then go out coalesced (up to the
 * batch limits) once the backlog drains, and the cost per delivery falls as load rises. Far below
 * the slow-consumer cap: ordinary back-pressure, a strike only when it does not shrink at all for
 * the strike interval (awaitBacklog).
 */
export const COALESCE_BACKLOG_BYTES = 64 * 1024;

export type StrikeAction = 'throttle' | 'disconnect';

export interface BackpressureHooks {
  isClosed(): boolean;
  /** The socket drained: delivery may go on. */
  resume(): void;
  /** A slow-consumer strike: tell the client (and, on the third, disconnect it). */
  strike(topic: string, action: StrikeAction, push: SyncErrorPayload): void;
}

/**
 * Keeps one socket's unflushed bytes bounded (the journal, not memory, is the queue of a slow
 * consumer). Over backlogLimit a live subscription waits for the socket to drain; over the cap
 * delivery stops and the connection earns strikes, the third of which disconnects it.
 */
export class Backpressure {
  private strikes = 0;
  private lastStrikeAt = 0;
  /** Over the cap: waiting for the socket to drain to half of it, striking meanwhile. */
  private drainTimer?: NodeJS.Timeout;
  /** Waiting for the socket's backlog to fall below backlogLimit (no strike). */
  private backlogTimer?: NodeJS.Timeout;

  constructor(
    private readonly transport: Pick<SessionTransport, 'bufferedAmount'>,
    private readonly options: SessionOptions,
    private readonly hooks: BackpressureHooks,
  ) {}

  get backlogLimit(): number {
    return Math.min(COALESCE_BACKLOG_BYTES, this.options.bufferedAmountCap / 4);
  }

  /** Whether delivery is paused (throttled or backlogged); the timer that paused it resumes it. */
  get paused(): boolean {
    return this.drainTimer !== undefined || this.backlogTimer !== undefined;
  }

  /** More unflushed bytes than a live subscription takes a new chunk with. */
  backlogged(): boolean {
    return this.transport.bufferedAmount() > this.backlogLimit;
  }

  /**
   * Checked before each delivery: true when it must not happen now. Over the cap the connection is
   * throttled; over backlogLimit a live subscription that is behind waits for the socket to drain.
   */
  holdsBack(topic: string, liveAndBehind: boolean): boolean {
    const buffered = this.transport.bufferedAmount();
    if (buffered > this.options.bufferedAmountCap) {
      this.throttle(topic);
      return true;
    }
    if (buffered > this.backlogLimit && liveAndBehind) {
      this.awaitBacklog(topic);
      return true;
    }
    return false;
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
      if (this.hooks.isClosed()) return this.stopBacklogWait();
      const buffered = this.transport.bufferedAmount();
      if (buffered < lowest) {
        lowest = buffered; // the client reads, if slowly: no strike
        since = Date.now();
      }
      if (buffered <= this.backlogLimit || buffered > this.options.bufferedAmountCap) {
        this.stopBacklogWait();
        this.hooks.resume(); // delivers, or sees the overflow and throttles
      } else if (Date.now() - since >= this.options.strikeMs) {
        this.stopBacklogWait();
        this.throttle(topic);
      }
    }, DRAIN_CHECK_MS);
    this.backlogTimer.unref();
  }

  private throttle(topic: string): void {
    if (this.drainTimer) return;
    if (Date.now() - this.lastStrikeAt > STRIKE_MEMORY_MS) this.strikes = 0;
    this.strike(topic);
    if (this.hooks.isClosed()) return;
    this.drainTimer = setInterval(() => {
      if (this.hooks.isClosed()) return this.stopDrainCheck();
      if (this.transport.bufferedAmount() <= this.options.bufferedAmountCap / 2) {
        this.stopDrainCheck();
        this.hooks.resume();
      } else if (Date.now() - this.lastStrikeAt >= this.options.strikeMs) {
        this.strike(topic);
      }
    }, DRAIN_CHECK_MS);
    this.drainTimer.unref();
  }

  private strike(topic: string): void {
    this.strikes += 1;
    this.lastStrikeAt = Date.now();
    const action: StrikeAction = this.strikes >= 3 ? 'disconnect' : 'throttle';
    this.hooks.strike(topic, action, slowConsumerPush(action, topic, this.transport.bufferedAmount(), this.options.bufferedAmountCap));
  }

  /** The session ended: no timer survives it. */
  stop(): void {
    this.stopDrainCheck();
    this.stopBacklogWait();
  }

  private stopDrainCheck(): void {
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
  }

  private stopBacklogWait(): void {
    clearInterval(this.backlogTimer);
    this.backlogTimer = undefined;
  }
}

/** The slow_consumer push (SlowConsumer): queue sizes are unflushed bytes against the cap. */
export function slowConsumerPush(action: StrikeAction, topic: string, queueDepth: number, queueLimit: number): SyncErrorPayload {
  return {
    code: 'slow_consumer',
    message: action === 'disconnect' ? 'send queue overflowed three times; reconnect and resume' : 'send queue is full; delivery paused',
    action,
    topic,
    queue_depth: queueDepth,
    queue_limit: queueLimit,
    reconnect_after_ms: action === 'disconnect' ? 1000 + Math.floor(Math.random() * 1000) : 0,
    full_resync_required: false,
  };
}
