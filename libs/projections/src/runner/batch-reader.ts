import { Position, RecordedEvent, Subscription, SubscriptionMessage } from '@khala/eventstore';
import { ENDED, ReadAhead, TIMEOUT } from '../read-ahead';
import { ProjectorOptions } from './projector-types';

/** What to commit next: events up to `position` (none for a checkpoint-only advance). */
export interface Batch {
  events: RecordedEvent[];
  /** Undefined when there is nothing to commit (the feed went quiet or ended). */
  position?: Position;
  /** The subscription ended after this batch. */
  ended: boolean;
}

export interface BatchReaderHooks {
  /** Whether a position is beyond the last committed one (an idle checkpoint is worth storing). */
  isAhead(position: Position): boolean;
  /** The subscription reached the store head: from now on batches are small and quick. */
  onLive(): void;
}

/**
 * Turns the subscription into batches: big ones while catching up (throughput), small ones once
 * live (latency), and checkpoint-only advances when nothing matched for a while. The feed reads
 * the next page in the background while the current batch commits.
 */
export class BatchReader {
  private readonly feed: ReadAhead<SubscriptionMessage>;
  private readonly maxBatch: number;
  private readonly liveBatch: number;
  private live = false;
  private lastIdleSave = 0;

  constructor(
    subscription: Subscription,
    private readonly options: ProjectorOptions,
    private readonly hooks: BatchReaderHooks,
  ) {
    this.maxBatch = options.maxBatchSize ?? 5000;
    this.liveBatch = Math.min(this.maxBatch, options.liveBatchSize ?? 200);
    this.feed = new ReadAhead(subscription[Symbol.asyncIterator](), this.maxBatch * 2);
  }

  async next(): Promise<Batch> {
    const feed = this.feed;
    const limit = this.live ? this.liveBatch : this.maxBatch;
    const flushAfterMs = this.options.flushAfterMs ?? 5;
    const idleEvery = this.options.idleCheckpointEveryMs ?? 1000;
    const events: RecordedEvent[] = [];
    let position: Position | undefined;
    for (;;) {
      // Catch-up waits for the read-ahead to refill (it is reading the next page); live flushes when quiet.
      const message = await feed.next(events.length === 0 ? undefined : this.live ? flushAfterMs : 250);
      if (message === TIMEOUT) break;
      if (message === ENDED) return { events, position, ended: true };
      if (message.kind === 'event') {
        events.push(message.event);
        position = message.event.position;
        if (events.length >= limit) break;
      } else if (message.kind === 'checkpoint') {
        if (events.length) {
          position = message.position;
          // Commit once nothing more is buffered. Live, this groups every read round that arrived
          // while the previous batch committed into one transaction (adaptive batching): cutting
          // at each round's checkpoint committed one event per transaction at streaming rates,
          // and the queue grew whenever a commit took longer than the gap between appends.
          if (feed.buffered === 0) break;
        } else if (Date.now() - this.lastIdleSave >= idleEvery && this.hooks.isAhead(message.position)) {
          position = message.position;
          this.lastIdleSave = Date.now();
          break;
        }
      } else {
        this.live = true;
        this.hooks.onLive();
        feed.setHighWater(this.options.liveReadAhead ?? 1);
        if (events.length) break;
      }
    }
    return { events, position, ended: false };
  }

  close(): void {
    this.feed.close();
  }
}
