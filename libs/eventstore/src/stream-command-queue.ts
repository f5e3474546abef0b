/**
 * One line per stream: jobs for a stream run one batch at a time, in arrival order. The first job
 * of an idle stream starts at once, alone; jobs that arrive while a batch is running wait and then
 * go together as the next batch (what a batch does with them is the runner's business: the
 * command executor decides them in order and appends their events at once). A stream with nothing
 * running or waiting holds no entry, so memory stays bounded by the streams in use.
 *
 * A stream kept busy batch after batch pauses now and then (see QueueFairness): another process
 * writing the same stream can only get an append in while this one is not appending, and a
 * process whose queue never empties would otherwise keep it out indefinitely.
 */
export interface QueuedJob<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/**
 * Runs one batch. It settles the jobs it took and returns those it left for a later batch (to be
 * run next, before anything that arrived since). A rejection fails every job of the batch.
 */
export type BatchRunner<Item, Result> = (
  key: string,
  batch: QueuedJob<Item, Result>[],
) => Promise<QueuedJob<Item, Result>[]>;

export interface QueueFairness {
  /** After this many batches in a row without the stream going idle, the next one waits... */
  pauseAfterBatches: number;
  /** ...this many times as long as the last batch took (the time a racing process needs to read and append)... */
  pauseFactor: number;
  /** ...but never longer than this (ms). */
  maxPauseMs: number;
}

export class StreamCommandQueue<Item, Result> {
  /** Jobs not yet started, per key; the key is present while a batch of it runs or jobs wait. */
  private readonly waiting = new Map<string, QueuedJob<Item, Result>[]>();

  constructor(
    private readonly runBatch: BatchRunner<Item, Result>,
    /** Most jobs handed to one batch. */
    private readonly maxBatch: number,
    private readonly fairness?: QueueFairness,
  ) {}

  submit(key: string, item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const queued = this.waiting.get(key);
      if (queued) return void queued.push({ item, resolve, reject });
      this.waiting.set(key, [{ item, resolve, reject }]);
      void this.drain(key);
    });
  }

  /** Keys with a batch running or jobs waiting (for tests and metrics). */
  get activeKeys(): number {
    return this.waiting.size;
  }

  private async drain(key: string): Promise<void> {
    const queued = this.waiting.get(key)!;
    let inARow = 0;
    let lastBatchMs = 0;
    while (queued.length > 0) {
      if (this.fairness && inARow > 0 && inARow % this.fairness.pauseAfterBatches === 0) {
        await sleep(Math.min(this.fairness.maxPauseMs, lastBatchMs * this.fairness.pauseFactor));
      }
      inARow += 1;
      const batch = queued.splice(0, this.maxBatch);
      const started = performance.now();
      try {
        const left = await this.runBatch(key, batch);
        // A runner that settled nothing would spin here forever.
        if (left.length >= batch.length) throw new Error('a batch runner must settle at least one job');
        queued.unshift(...left);
      } catch (error) {
        for (const job of batch) job.reject(error);
      }
      lastBatchMs = performance.now() - started;
    }
    // Synchronously after the last batch: a job submitted from here on starts a new line.
    this.waiting.delete(key);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
