import { AllStreamResolvedEvent, AllStreamSubscription, EventStoreDBClient, FORWARDS, START } from '@eventstore/db-client';
import { comparePositions, Position, SubscribeOptions, Subscription, SubscriptionMessage } from '../event-store.port';
import { Waker } from '../postgres/waker';
import { isSystemEvent, isTransient, matchesFilter, toPortError, toRecordedEvent, toServerFilter } from './esdb-mapping';

const MAX_BACKOFF_MS = 5_000;

/**
 * Messages held between the server and the consumer. Past this, the adapter stops reading, the
 * client library's stream fills and gRPC flow control holds the server back: a catch-up of any
 * length costs the same memory as a slow consumer of a short one.
 */
export const SUBSCRIPTION_HIGH_WATER_MARK = 512;
const LOW_WATER_MARK = SUBSCRIPTION_HIGH_WATER_MARK / 2;

/**
 * A server-side filtered $all catch-up subscription that survives the server: when it errors with
 * something transient it resubscribes from the last position it delivered (an event or a
 * checkpoint), so the consumer sees one order, with no gap and no duplicate, and a fresh caughtUp.
 *
 * Checkpoints are taken as servers actually send them: they may repeat one position for ever
 * (KurrentDB #3697), so only an advancing one is passed on; they may name the position of an event
 * not yet delivered (#4975/#4990), so one ahead of the last delivered event is passed on only once
 * a read shows no event of this subscription sits at it. Resuming from a passed-on checkpoint
 * therefore never skips an event.
 */
export class EsdbSubscription implements Subscription {
  private closed = false;
  private readonly waker = new Waker();
  private attempt?: SubscriptionAttempt;
  /** Resubscriptions after a transient failure (for metrics). */
  reconnects = 0;
  /** The last event or checkpoint passed on (for the lag metric). */
  lastPosition?: Position;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: SubscribeOptions,
    private readonly reconnectDelayMs: number,
    private readonly onClose: () => void = () => undefined,
  ) {}

  async close(): Promise<void> {
    if (!this.closed) this.onClose();
    this.closed = true;
    this.waker.wake();
    await this.attempt?.close();
  }

  /** Messages read from the server and not yet taken by the consumer (bounded by the high-water mark). */
  buffered(): number {
    return this.attempt?.buffered() ?? 0;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    // Where the next attempt starts (exclusive): the last event or checkpoint passed on.
    let resumeFrom: Position | 'start' = this.options.fromPosition ?? 'start';
    // Events at or before this were delivered (or precede the start): a server replaying them is not heard twice.
    let lastEvent: Position | undefined = resumeFrom === 'start' ? undefined : resumeFrom;
    let failures = 0;
    while (!this.closed) {
      const attempt = new SubscriptionAttempt(this.client, resumeFrom, this.options);
      this.attempt = attempt;
      try {
        for await (const message of attempt) {
          if (this.closed) return;
          failures = 0;
          if (message.kind === 'event') {
            const position = message.event.position;
            if (lastEvent && comparePositions(position, lastEvent) <= 0) continue;
            lastEvent = position;
            // An event behind a checkpoint already passed on is still delivered (never lost).
            if (resumeFrom === 'start' || comparePositions(position, resumeFrom) > 0) resumeFrom = position;
          } else if (message.kind === 'checkpoint') {
            if (resumeFrom !== 'start' && comparePositions(message.position, resumeFrom) <= 0) continue;
            resumeFrom = message.position;
          }
          if (message.kind !== 'caughtUp') this.lastPosition = message.kind === 'event' ? message.event.position : message.position;
          yield message;
        }
      } catch (error) {
        if (this.closed) return;
        if (!isTransient(error)) throw toPortError(error);
      } finally {
        await attempt.close();
      }
      failures += 1;
      this.reconnects += 1;
      await this.waker.sleep(Math.min(MAX_BACKOFF_MS, this.reconnectDelayMs * 2 ** (failures - 1)));
    }
  }
}

/**
 * One server subscription. The client surfaces events as stream data but checkpoints and caughtUp
 * as callbacks/events raised while it processes the gRPC message; reading the events it buffered
 * first at those moments keeps all three in the order the server sent them. The client's stream
 * holds only a few messages (its own high-water mark), so reading all of them then stays bounded.
 */
class SubscriptionAttempt implements AsyncIterable<SubscriptionMessage> {
  private readonly queue: SubscriptionMessage[] = [];
  private readonly subscription: AllStreamSubscription;
  private failure?: unknown;
  private ended = false;
  private readonly waker = new Waker();
  private readonly room = new Waker();
  private lastEvent?: Position;

  constructor(
    private readonly client: EventStoreDBClient,
    from: Position | 'start',
    private readonly options: SubscribeOptions,
  ) {
    // The client awaits this callback before it processes the next gRPC message: while it waits
    // for room or for the check below, the server is held back.
    const filter = toServerFilter(options.filter, options.checkpointInterval, async (position) => {
      this.read(Number.POSITIVE_INFINITY);
      while (this.queue.length >= SUBSCRIPTION_HIGH_WATER_MARK && !this.ended) await this.room.sleep(60_000);
      if (await this.isSafeResumePoint(position)) this.push({ kind: 'checkpoint', position });
    });
    this.subscription = client.subscribeToAll({ fromPosition: from === 'start' ? START : from, filter });
    this.subscription.on('readable', () => this.read(SUBSCRIPTION_HIGH_WATER_MARK));
    this.subscription.on('caughtUp', () => {
      this.read(Number.POSITIVE_INFINITY);
      this.push({ kind: 'caughtUp' });
    });
    this.subscription.on('error', (error: unknown) => {
      this.failure = error;
      this.waker.wake();
    });
    this.subscription.on('end', () => this.finish());
    this.subscription.on('close', () => this.finish());
  }

  buffered(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.finish();
    await this.subscription.unsubscribe().catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    for (;;) {
      const message = this.queue.shift();
      if (message) {
        if (this.queue.length < LOW_WATER_MARK) {
          this.read(SUBSCRIPTION_HIGH_WATER_MARK);
          this.room.wake();
        }
        yield message;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      this.read(SUBSCRIPTION_HIGH_WATER_MARK);
      if (this.queue.length === 0) await this.waker.sleep(60_000);
    }
  }

  /**
   * True unless an event this subscription would deliver sits exactly at `position` and has not
   * been delivered: the checkpoint KurrentDB 24.10/25.0 could send (#4975) names the next event.
   */
  private async isSafeResumePoint(position: Position): Promise<boolean> {
    if (this.lastEvent && comparePositions(position, this.lastEvent) <= 0) return true;
    // A forwards $all read from an event's position includes that event.
    const reader = this.client.readAll({ fromPosition: position, direction: FORWARDS, maxCount: 1 });
    try {
      for await (const resolved of reader) {
        const event = resolved.event;
        if (!event?.position || comparePositions(event.position, position) !== 0) return true;
        return isSystemEvent(event) || !matchesFilter(event, this.options.filter);
      }
      return true;
    } catch {
      // Unsure: pass no checkpoint on; the next event or checkpoint will do.
      return false;
    } finally {
      // Leaving the loop early does not end the gRPC call; an open one would hold dispose() up.
      await Promise.resolve()
        .then(() => reader.cancel())
        .catch(() => undefined);
    }
  }

  private read(limit: number): void {
    while (this.queue.length < limit) {
      const resolved = this.subscription.read() as AllStreamResolvedEvent | null;
      if (resolved === null) return;
      const event = resolved.event;
      if (!event || isSystemEvent(event) || !matchesFilter(event, this.options.filter)) continue;
      const recorded = toRecordedEvent(event);
      this.lastEvent = recorded.position;
      this.push({ kind: 'event', event: recorded });
    }
  }

  private push(message: SubscriptionMessage): void {
    this.queue.push(message);
    this.waker.wake();
  }

  private finish(): void {
    this.ended = true;
    this.waker.wake();
    this.room.wake();
  }
}
