import { CommittedJournalRow } from '@khala/contracts';
import { comparePositions, Position, RecordedEvent } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { tracingEnabled } from '@khala/platform/tracing/tracing';
import type { Logger } from 'pino';
import { checkpointFenceStatement, fenceSucceeded } from '../checkpoint-store';
import { tryRead } from '../event-reader';
import { JOURNAL_CHANNEL } from '../journal-writer';
import { Projection } from '../projection';
import { isPaused, pausedIn, pausedStatement } from '../projection-controls';
import { failureStatus, isSkipped, parkFailure } from '../projection-failures';
import { CheckpointTable, ControlsTable, FailuresTable } from '../projection-tables';
import { ProjectorMetrics } from '../projector-metrics';
import { BatchTrace } from './batch-tracing';
import { Leadership } from './leadership';
import { ProjectorStats } from './projector-stats';
import { ProjectorOptions, RunnerProgress } from './projector-types';
import { backoff, isTransient, LeadershipLost, PoisonStop, ProjectionPaused, sleep } from './runner-errors';

export interface CommitterTables {
  checkpointTable: CheckpointTable;
  failuresTable: FailuresTable;
  controlsTable: ControlsTable;
}

/**
 * Commits batches, one transaction each: checkpoint fence, pause check, read model, journal.
 * A batch that keeps failing is split until the poison event is alone; that event is parked and
 * passed ('continue') or halts the projection ('stop') until an operator skips or retries it.
 */
export class BatchCommitter {
  constructor(
    private readonly db: Database,
    private readonly projection: Projection,
    private readonly logger: Logger,
    private readonly options: ProjectorOptions,
    private readonly tables: CommitterTables,
    private readonly leadership: Leadership,
    private readonly metrics: ProjectorMetrics,
    private readonly stats: ProjectorStats,
    private readonly progress: RunnerProgress,
  ) {}

  isAhead(position: Position): boolean {
    return !this.progress.lastCommitted || comparePositions(position, this.progress.lastCommitted) > 0;
  }

  /**
   * Reads every event through the projection's contract first: an event it cannot read is poison
   * at once, with no retries (its bytes will not change) and no fold, so it never reaches a read
   * model or the journal. The readable runs between such events commit as usual, each up to the
   * event before the next poison, so the checkpoint never passes an event that was not handled.
   */
  async commitBatch(events: RecordedEvent[], position: Position): Promise<void> {
    const reader = this.projection.readEvent;
    let readable: RecordedEvent[] = [];
    for (let index = 0; index < events.length; index++) {
      const outcome = tryRead(events[index], reader);
      if (outcome.error === undefined) {
        readable.push(outcome.event);
        continue;
      }
      if (readable.length) await this.commitReadable(readable, events[index - 1].position);
      readable = [];
      await this.parkOrStop(events[index], outcome.error, 1);
    }
    if (readable.length || this.isAhead(position)) await this.commitReadable(readable, position);
  }

  /** A halted 'stop' projection resumes once the parked event is skipped or marked for retry. */
  async waitForOperator(eventId: string): Promise<void> {
    while (!this.progress.stopping) {
      const status = await failureStatus(
        this.db,
        this.projection.name,
        eventId,
        this.tables.failuresTable,
      ).catch(() => 'parked');
      if (status !== 'parked') return;
      await this.leadership.standBy();
    }
  }

  private get maxAttempts(): number {
    return this.options.maxAttempts ?? 3;
  }

  private backoff(attempt: number): number {
    return backoff(attempt, this.options.retryBaseMs);
  }

  /** Commits read events; a batch that keeps failing is split in halves until the poison event is alone. */
  private async commitReadable(
    events: RecordedEvent[],
    position: Position,
    attempts = this.maxAttempts,
  ): Promise<void> {
    const error = await this.commitWithRetry(
      events,
      position,
      events.length === 1 ? this.maxAttempts : attempts,
    );
    if (!error) return;
    if (events.length === 0) throw error;
    if (events.length === 1) return this.parkOrStop(events[0], error);
    const middle = Math.ceil(events.length / 2);
    const first = events.slice(0, middle);
    await this.commitReadable(first, first[first.length - 1].position, 1);
    await this.commitReadable(events.slice(middle), position, 1);
  }

  /** Undefined when committed; the error when a non-transient failure outlasted its attempts. */
  private async commitWithRetry(
    events: RecordedEvent[],
    position: Position,
    attempts: number,
  ): Promise<unknown> {
    let transientFailures = 0;
    for (let attempt = 1; ; ) {
      try {
        await this.commitOnce(events, position);
        return undefined;
      } catch (error) {
        if (error instanceof LeadershipLost || this.progress.stopping) throw error;
        if (error instanceof ProjectionPaused) {
          const before = this.progress.state;
          await this.waitWhilePaused();
          if (this.progress.stopping) throw error;
          this.progress.state = before === 'paused' ? 'catching_up' : before;
          continue;
        }
        if (isTransient(error)) {
          // The database is away: wait for it as long as it takes (readiness reports the stall).
          transientFailures += 1;
          this.progress.lastError = (error as Error).message;
          this.logger.warn(
            { err: error, projection: this.projection.name },
            'projection batch hit a transient error; retrying',
          );
          await sleep(this.backoff(transientFailures));
          continue;
        }
        if (attempt >= attempts) return error;
        this.logger.warn(
          { err: error, projection: this.projection.name, attempt, events: events.length },
          'projection batch failed; retrying',
        );
        await sleep(this.backoff(attempt));
        attempt += 1;
      }
    }
  }

  private async waitWhilePaused(): Promise<void> {
    while (
      !this.progress.stopping &&
      (await isPaused(this.db, this.projection.name, this.tables.controlsTable))
    ) {
      this.progress.state = 'paused';
      await this.leadership.standBy();
    }
  }

  private async commitOnce(
    events: RecordedEvent[],
    position: Position,
    park?: { event: RecordedEvent; error: unknown; attempts: number },
  ): Promise<void> {
    if (!this.leadership.held) throw new LeadershipLost('lease connection lost');
    const started = performance.now();
    const { name, version } = this.projection;
    let written: readonly CommittedJournalRow[] | undefined;
    const traced = tracingEnabled() && events.length ? new BatchTrace(this.projection, events) : undefined;
    try {
      await this.db.transaction(
        async (tx, [fence, paused]) => {
          if (!fenceSucceeded(fence))
            throw new LeadershipLost('the checkpoint moved under this instance (another writer)');
          if (pausedIn(paused)) throw new ProjectionPaused(`projection ${name} is paused`);
          if (park)
            await parkFailure(tx, name, park.event, park.error, park.attempts, this.tables.failuresTable);
          if (events.length)
            written = (await (traced ? traced.project(this.projection, tx, events) : this.projection.project(tx, events))) ?? undefined;
        },
        {
          // BEGIN, the fence, then the pause check, in one round trip. The pause check runs after the
          // fence has the checkpoint row lock: `oa projections pause` waits for that lock, so once it
          // returns no batch that saw "not paused" can still be in flight.
          openWith: [
            checkpointFenceStatement(
              name,
              version,
              this.progress.lastCommitted,
              position,
              this.tables.checkpointTable,
            ),
            pausedStatement(name, this.tables.controlsTable),
          ],
        },
      );
    } catch (error) {
      traced?.end(error);
      throw error;
    }
    traced?.end();
    // After the commit, not inside it: a NOTIFY in the batch would hold the cluster-wide notify
    // lock through the commit (see committed-notices.ts). Gateways in this process wake at once.
    // The rows the batch wrote go with it: this process's gateway delivers them without a read.
    if (events.length) this.db.notifyCommitted(JOURNAL_CHANNEL, '', written ? { rows: written } : undefined);
    const ms = performance.now() - started;
    this.progress.lastCommitted = position;
    this.progress.batchesCommitted += 1;
    this.progress.eventsCommitted += events.length;
    this.metrics.batchSeconds.observe({ projection: name }, ms / 1000);
    if (events.length) this.metrics.events.inc({ projection: name }, events.length);
    this.options.onCommit?.({ projection: name, events: events.length, position, ms });
  }

  /**
   * 'continue': park and move past it in one transaction. 'stop': park and halt (unless an operator
   * skipped it). `attempts`: how often it was tried (1 for an event the contract refused).
   */
  private async parkOrStop(event: RecordedEvent, error: unknown, attempts = this.maxAttempts): Promise<void> {
    const name = this.projection.name;
    const skipped = await isSkipped(this.db, name, event.id, this.tables.failuresTable).catch(() => false);
    this.logger.error(
      {
        err: error,
        projection: name,
        event_id: event.id,
        stream: event.stream,
        revision: event.revision.toString(),
        type: event.type,
      },
      skipped ? 'poison event skipped by an operator' : 'poison event parked',
    );
    if (skipped || (this.projection.failurePolicy ?? 'stop') === 'continue') {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.commitOnce([], event.position, { event, error, attempts });
          if (!skipped) this.stats.parkedOne();
          return;
        } catch (parkError) {
          if (parkError instanceof LeadershipLost || this.progress.stopping || !isTransient(parkError))
            throw parkError;
          await sleep(this.backoff(attempt));
        }
      }
    }
    await this.db
      .transaction((tx) => parkFailure(tx, name, event, error, attempts, this.tables.failuresTable))
      .catch(() => undefined);
    throw new PoisonStop(
      `event ${event.id} (${event.type} in ${event.stream}) cannot be projected: ${(error as Error)?.message ?? error}`,
      event.id,
    );
  }
}
