import { EventStore, Position, RecordedEvent, SubscriptionMessage } from '@khala/eventstore';
import { Database } from '@khala/platform';
import type { Logger } from 'pino';
import { CheckpointTable, loadCheckpoint, saveCheckpoint } from './checkpoint-store';
import { notifyJournalAppended } from './journal-writer';
import { Projection } from './projection';

export interface ProjectorOptions {
  /** Catch-up commits this many events per transaction (throughput). */
  maxBatchSize?: number;
  /** Live mode commits what arrived once the stream has been quiet this long (latency). */
  flushAfterMs?: number;
  /** Checkpoint-only advances (nothing matched) are stored at most this often. */
  idleCheckpointEveryMs?: number;
  maxAttempts?: number;
  /** Where the checkpoint lives (default runtime.projection_checkpoints; control keeps its own). */
  checkpointTable?: CheckpointTable;
}

export type ProjectorState = 'starting' | 'catching_up' | 'live' | 'stopped' | 'failed';

const QUIET = Symbol('quiet');

/**
 * Follows the event store in order and applies one projection, one Postgres transaction per
 * batch: read model + watermarks + journal + checkpoint commit together, then NOTIFY fires.
 */
export class ProjectorRunner {
  private stopping = false;
  private loop?: Promise<void>;
  private closeSubscription?: () => Promise<void>;
  state: ProjectorState = 'starting';
  lastCommitted?: Position;
  lastError?: string;

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projection: Projection,
    private readonly logger: Logger,
    private readonly options: ProjectorOptions = {},
  ) {}

  start(): void {
    this.loop = this.run().catch((error: Error) => {
      this.state = 'failed';
      this.lastError = error.message;
      this.logger.error({ err: error, projection: this.projection.name }, 'projector stopped on an error');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.closeSubscription?.();
    await this.loop;
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    const { name, filter } = this.projection;
    const checkpoint = await loadCheckpoint(this.db, name, this.options.checkpointTable);
    this.lastCommitted = checkpoint?.position;
    const subscription = this.store.subscribeToAll({ fromPosition: checkpoint?.position ?? 'start', filter });
    this.closeSubscription = () => subscription.close();
    this.state = 'catching_up';
    const iterator = subscription[Symbol.asyncIterator]();
    const maxBatch = this.options.maxBatchSize ?? 500;
    const flushAfterMs = this.options.flushAfterMs ?? 5;
    let batch: RecordedEvent[] = [];
    let pendingNext: Promise<IteratorResult<SubscriptionMessage>> | undefined;
    let lastIdleSave = 0;
    while (!this.stopping) {
      pendingNext ??= iterator.next();
      const result = batch.length ? await Promise.race([pendingNext, quietAfter(flushAfterMs)]) : await pendingNext;
      if (result === QUIET) {
        await this.commit(batch, batch[batch.length - 1].position);
        batch = [];
        continue;
      }
      pendingNext = undefined;
      if (result.done) break;
      const message = result.value;
      if (message.kind === 'event') {
        batch.push(message.event);
        if (batch.length >= maxBatch) {
          await this.commit(batch, message.event.position);
          batch = [];
        }
      } else if (message.kind === 'checkpoint') {
        const now = Date.now();
        if (batch.length || now - lastIdleSave >= (this.options.idleCheckpointEveryMs ?? 1000)) {
          await this.commit(batch, message.position);
          batch = [];
          lastIdleSave = now;
        }
      } else {
        if (batch.length) await this.commit(batch, batch[batch.length - 1].position);
        batch = [];
        this.state = 'live';
      }
    }
    if (batch.length && !this.stopping) await this.commit(batch, batch[batch.length - 1].position);
  }

  private async commit(events: RecordedEvent[], position: Position): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.transaction(async (tx) => {
          if (events.length) await this.projection.project(tx, events);
          await saveCheckpoint(tx, this.projection.name, this.projection.version, position, this.options.checkpointTable);
          if (events.length) await notifyJournalAppended(tx);
        });
        this.lastCommitted = position;
        return;
      } catch (error) {
        if (attempt >= maxAttempts || this.stopping) throw error;
        this.logger.warn({ err: error, projection: this.projection.name, attempt }, 'projection batch failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** attempt)));
      }
    }
  }
}

function quietAfter(ms: number): Promise<typeof QUIET> {
  return new Promise((resolve) => setTimeout(() => resolve(QUIET), ms));
}
