import { EventStore, Position } from '@khala/eventstore';
import { Database } from '@khala/platform';
import type { Logger } from 'pino';
import { DEFAULT_CHECKPOINT_TABLE, loadCheckpoint } from './checkpoint-store';
import { AdvisoryLease } from './leader-lease';
import { Projection } from './projection';
import { CheckpointTable, projectionLeaseKey, tablesOfCheckpoint } from './projection-tables';
import { projectorMetrics, ProjectorMetrics } from './projector-metrics';
import { BatchCommitter } from './runner/batch-committer';
import { BatchReader } from './runner/batch-reader';
import { Leadership } from './runner/leadership';
import { ProjectorStats } from './runner/projector-stats';
import { ProjectorOptions, ProjectorState, ProjectorStatus, RunnerProgress } from './runner/projector-types';
import { backoff, LeadershipLost, PoisonStop, sleep } from './runner/runner-errors';

export { STALLED_AFTER_MS } from './runner/projector-types';
export type { ProjectorOptions, ProjectorState, ProjectorStatus } from './runner/projector-types';

/**
 * Follows the event store in order and applies one projection, one Postgres transaction per
 * batch: checkpoint fence + read model + watermarks + journal commit together; listeners of the
 * journal are woken once it has committed. Only the lease holder writes; every batch is also fenced
 * on the checkpoint, so a stale leader's in-flight batch can never commit twice.
 *
 * The runner only orchestrates: runner/leadership (lease, standby), runner/batch-reader (the feed
 * into batches), runner/batch-committer (transactions, splitting, parking), runner/projector-stats.
 */
export class ProjectorRunner {
  private loop?: Promise<void>;
  private reader?: BatchReader;
  private readonly progress: RunnerProgress = {
    state: 'starting',
    stopping: false,
    batchesCommitted: 0,
    eventsCommitted: 0,
  };
  private readonly leadership: Leadership;
  private readonly stats: ProjectorStats;
  private readonly committer: BatchCommitter;
  private readonly metrics: ProjectorMetrics;
  private readonly checkpointTable: CheckpointTable;

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    readonly projection: Projection,
    private readonly logger: Logger,
    private readonly options: ProjectorOptions = {},
  ) {
    const checkpointTable = (this.checkpointTable = options.checkpointTable ?? DEFAULT_CHECKPOINT_TABLE);
    const tables = {
      ...tablesOfCheckpoint(checkpointTable),
      ...(options.failuresTable && { failuresTable: options.failuresTable }),
    };
    const lease =
      options.lease ?? new AdvisoryLease(db, projectionLeaseKey(checkpointTable, projection.name));
    this.metrics = projectorMetrics(options.metrics);
    this.leadership = new Leadership(lease, this.progress, options.leaseRetryMs);
    this.stats = new ProjectorStats(store, db, projection, tables, this.metrics, this.progress);
    this.committer = new BatchCommitter(
      db,
      projection,
      logger,
      options,
      tables,
      this.leadership,
      this.metrics,
      this.stats,
      this.progress,
    );
  }

  get state(): ProjectorState {
    return this.progress.state;
  }
  /** Position of the last batch this instance committed (or loaded when it took the lease). */
  get lastCommitted(): Position | undefined {
    return this.progress.lastCommitted;
  }
  get lastError(): string | undefined {
    return this.progress.lastError;
  }
  get batchesCommitted(): number {
    return this.progress.batchesCommitted;
  }
  get eventsCommitted(): number {
    return this.progress.eventsCommitted;
  }
  get isLeader(): boolean {
    return this.leadership.held;
  }

  start(): void {
    this.loop = this.main().catch((error: Error) => {
      this.progress.state = 'failed';
      this.progress.lastError = error.message;
      this.logger.error({ err: error, projection: this.projection.name }, 'projector stopped on an error');
    });
    this.stats.start(this.options.statsEveryMs ?? 5000);
  }

  async stop(): Promise<void> {
    this.progress.stopping = true;
    this.stats.stop();
    this.leadership.wake();
    this.reader?.close();
    await this.loop;
    if (this.progress.state !== 'failed') this.progress.state = 'stopped';
  }

  status(): ProjectorStatus {
    return this.stats.status(this.progress, this.leadership.held);
  }

  /** Measures lag from the stored checkpoint, so a standby reports the leader's progress too. */
  refreshStats(): Promise<void> {
    return this.stats.refresh();
  }

  private async main(): Promise<void> {
    const progress = this.progress;
    let failures = 0;
    while (!progress.stopping) {
      progress.state = 'standby';
      this.metrics.leader.set({ projection: this.projection.name }, 0);
      if (!(await this.leadership.acquire())) break;
      this.metrics.leader.set({ projection: this.projection.name }, 1);
      try {
        await this.follow();
        failures = 0;
      } catch (error) {
        if (error instanceof PoisonStop) {
          // Halted (state 'failed', as readiness reports it) until an operator skips or retries the event.
          progress.state = 'failed';
          progress.lastError = error.message;
          this.logger.error({ projection: this.projection.name, event_id: error.eventId }, error.message);
          await this.leadership.release();
          await this.committer.waitForOperator(error.eventId);
          continue;
        }
        progress.lastError = (error as Error).message;
        if (error instanceof LeadershipLost) {
          this.logger.warn(
            { projection: this.projection.name, reason: progress.lastError },
            'projector lost its lease; standing by',
          );
        } else if (!progress.stopping) {
          failures += 1;
          this.logger.error(
            { err: error, projection: this.projection.name },
            'projector failed; restarting from the checkpoint',
          );
          await sleep(backoff(failures, this.options.retryBaseMs));
        }
      } finally {
        this.reader = undefined;
        await this.leadership.release();
      }
    }
  }

  /** Leads from the stored checkpoint: reads batches and commits them until stopped or fenced out. */
  private async follow(): Promise<void> {
    const { name, filter } = this.projection;
    const checkpoint = await loadCheckpoint(this.db, name, this.checkpointTable);
    this.progress.lastCommitted = checkpoint?.position;
    const subscription = this.store.subscribeToAll({ fromPosition: checkpoint?.position ?? 'start', filter });
    const reader = new BatchReader(subscription, this.options, {
      isAhead: (position) => this.committer.isAhead(position),
      onLive: () => (this.progress.state = 'live'),
    });
    this.reader = reader;
    if (this.progress.stopping) reader.close();
    this.progress.state = 'catching_up';
    try {
      while (!this.progress.stopping) {
        if (!this.leadership.held) throw new LeadershipLost('lease connection lost');
        const batch = await reader.next();
        if (batch.position && !this.progress.stopping)
          await this.committer.commitBatch(batch.events, batch.position);
        if (batch.ended) {
          if (this.progress.stopping) return;
          throw new Error('event store subscription ended');
        }
      }
    } finally {
      reader.close();
      await subscription.close().catch(() => undefined);
    }
  }
}
