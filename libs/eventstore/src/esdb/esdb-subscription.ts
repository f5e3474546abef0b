import { AllStreamResolvedEvent, AllStreamSubscription, EventStoreDBClient, START } from '@eventstore/db-client';
import { comparePositions, Position, SubscribeOptions, Subscription, SubscriptionMessage } from '../event-store.port';
import { Waker } from '../postgres/waker';
import { isSystemEvent, isTransient, matchesFilter, toPortError, toRecordedEvent, toServerFilter } from './esdb-mapping';

const MAX_BACKOFF_MS = 5_000;

/**
 * A server-side filtered $all catch-up subscription that survives the server: when it errors with
 * something transient it resubscribes from the last position it delivered (an event or a
 * checkpoint), so the consumer sees one order, with no gap and no duplicate, and a fresh caughtUp.
 */
export class EsdbSubscription implements Subscription {
  private closed = false;
  private readonly waker = new Waker();
  private attempt?: SubscriptionAttempt;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: SubscribeOptions,
    private readonly reconnectDelayMs: number,
  ) {}

  async close(): Promise<void> {
    this.closed = true;
    this.waker.wake();
    await this.attempt?.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    let resumeFrom: Position | 'start' = this.options.fromPosition ?? 'start';
    let failures = 0;
    while (!this.closed) {
      const attempt = new SubscriptionAttempt(this.client, resumeFrom, this.options);
      this.attempt = attempt;
      try {
        for await (const message of attempt) {
          if (this.closed) return;
          failures = 0;
          if (message.kind !== 'caughtUp') {
            const position = message.kind === 'event' ? message.event.position : message.position;
            // Exclusive resume: nothing at or before what we already delivered goes out twice.
            if (resumeFrom !== 'start' && comparePositions(position, resumeFrom) <= 0) continue;
            resumeFrom = position;
          }
          yield message;
        }
      } catch (error) {
        if (this.closed) return;
        if (!isTransient(error)) throw toPortError(error);
      } finally {
        await attempt.close();
      }
      failures += 1;
      await this.waker.sleep(Math.min(MAX_BACKOFF_MS, this.reconnectDelayMs * 2 ** (failures - 1)));
    }
  }
}

/**
 * One server subscription. The client surfaces events as stream data but checkpoints and caughtUp
 * as callbacks/events raised while it processes the gRPC message; draining the buffered events
 * first at those moments keeps all three in the order the server sent them.
 */
class SubscriptionAttempt implements AsyncIterable<SubscriptionMessage> {
  private readonly queue: SubscriptionMessage[] = [];
  private readonly subscription: AllStreamSubscription;
  private failure?: unknown;
  private ended = false;
  private readonly waker = new Waker();

  constructor(
    client: EventStoreDBClient,
    from: Position | 'start',
    private readonly options: SubscribeOptions,
  ) {
    const filter = toServerFilter(options.filter, options.checkpointInterval, (position) => {
      this.drain();
      this.push({ kind: 'checkpoint', position });
    });
    this.subscription = client.subscribeToAll({ fromPosition: from === 'start' ? START : from, filter });
    this.subscription.on('readable', () => this.drain());
    this.subscription.on('caughtUp', () => {
      this.drain();
      this.push({ kind: 'caughtUp' });
    });
    this.subscription.on('error', (error: unknown) => {
      this.failure = error;
      this.waker.wake();
    });
    this.subscription.on('end', () => this.finish());
    this.subscription.on('close', () => this.finish());
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
        yield message;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await this.waker.sleep(60_000);
    }
  }

  private drain(): void {
    for (;;) {
      const resolved = this.subscription.read() as AllStreamResolvedEvent | null;
      if (resolved === null) return;
      const event = resolved.event;
      if (!event || isSystemEvent(event) || !matchesFilter(event, this.options.filter)) continue;
      this.push({ kind: 'event', event: toRecordedEvent(event) });
    }
  }

  private push(message: SubscriptionMessage): void {
    this.queue.push(message);
    this.waker.wake();
  }

  private finish(): void {
    this.ended = true;
    this.waker.wake();
  }
}
