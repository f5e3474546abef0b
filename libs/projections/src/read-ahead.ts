export const TIMEOUT = Symbol('timeout');
export const ENDED = Symbol('ended');

/**
 * Pulls from an async iterator in the background into a bounded queue, so the next page of events
 * is read from the store while the current batch transaction commits (catch-up throughput).
 */
export class ReadAhead<T> {
  private readonly queue: T[] = [];
  private head = 0;
  private ended = false;
  private failure?: unknown;
  private closed = false;
  private wakeConsumer?: () => void;
  private wakeProducer?: () => void;

  constructor(
    private readonly iterator: AsyncIterator<T>,
    private highWater: number,
  ) {
    void this.pump();
  }

  /** Changes how far ahead the pump reads (a lower bound takes effect once the consumer drains below it). */
  setHighWater(items: number): void {
    this.highWater = Math.max(1, items);
    if (this.buffered < this.highWater) this.wakeProducer?.();
  }

  get buffered(): number {
    return this.queue.length - this.head;
  }

  /**
   * The next item; ENDED when the source is done (or closed); TIMEOUT when `waitMs` is given and
   * nothing arrived in time. Rethrows the source's error.
   */
  async next(waitMs?: number): Promise<T | typeof TIMEOUT | typeof ENDED> {
    if (this.buffered === 0 && !this.ended) {
      await new Promise<void>((resolve) => {
        const timer = waitMs === undefined ? undefined : setTimeout(resolve, waitMs);
        this.wakeConsumer = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeConsumer = undefined;
    }
    if (this.buffered > 0) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined as T;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (this.buffered < this.highWater) this.wakeProducer?.();
      return item;
    }
    if (this.failure !== undefined) throw this.failure;
    return this.ended ? ENDED : TIMEOUT;
  }

  close(): void {
    this.closed = true;
    this.ended = true;
    this.wakeProducer?.();
    this.wakeConsumer?.();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.buffered >= this.highWater) {
          await new Promise<void>((resolve) => (this.wakeProducer = resolve));
          this.wakeProducer = undefined;
          continue;
        }
        const result = await this.iterator.next();
        if (result.done || this.closed) break;
        this.queue.push(result.value);
        this.wakeConsumer?.();
      }
    } catch (error) {
      this.failure = error ?? new Error('subscription failed');
    } finally {
      this.ended = true;
      this.wakeConsumer?.();
      if (this.closed) await this.iterator.return?.().catch(() => undefined);
    }
  }
}
