import { comparePositions, EventStore, Position, RecordedEvent, SubscriptionMessage } from '@khala/eventstore';
import { Database, isConnectionError } from '@khala/platform';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { measureBacklog } from './backlog';
import { CheckpointTable, checkpointFenceStatement, DEFAULT_CHECKPOINT_TABLE, fenceSucceeded, loadCheckpoint } from './checkpoint-store';
import { JOURNAL_CHANNEL } from './journal-writer';
import { AdvisoryLease, ProjectionLease } from './leader-lease';
import { Projection } from './projection';
import { countParked, failureStatus, FailuresTable, isSkipped, parkFailure } from './projection-failures';
import { ControlsTable, isPaused, pausedIn, pausedStatement } from './projection-controls';
import { projectorMetrics, ProjectorMetrics } from './projector-metrics';
import { ENDED, ReadAhead, TIMEOUT } from './read-ahead';
import { tryRead } from './event-reader';

export interface ProjectorOptions {
  /** Catch-up commits up to this many events per transaction (throughput). Default 5000. */
  maxBatchSize?: number;
  /** Once caught up, batches are at most this big (latency). Default 200. */
  liveBatchSize?: number;
  /** Live mode commits what arrived once the stream has been quiet this long. Default 5 ms. */
  flushAfterMs?: number;
  /**
   * Once caught up, how many messages the feed may read ahead of the batch being built. Default 1:
   * while a batch commits the feed reads at most one more round, and the next batch takes what
   * arrived meanwhile in one read, instead of one read (commit horizon + page) per append's NOTIFY.
   */
  liveReadAhead?: number;
  /** Checkpoint-only advances (nothing matched) are stored at most this often. */
  idleCheckpointEveryMs?: number;
  /** Attempts of a failing batch, and of a single failing event before it is parked. Default 3. */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt, capped at 5 s. Default 50 ms. */
  retryBaseMs?: number;
  /** Where the checkpoint lives (default runtime.projection_checkpoints; control keeps its own). */
  checkpointTable?: CheckpointTable;
  /** Where poison events are parked (default: projection_failures in the checkpoint's schema). */
  failuresTable?: FailuresTable;
  /** Who may write (default: an advisory-lock lease named after the checkpoint table and projection). */
  lease?: ProjectionLease;
  /** How often a standby tries to take the lease. Default 1000 ms. */
  leaseRetryMs?: number;
  /** Prometheus registry for projection_* series (default: a private one). */
  metrics?: Registry;
  /** How often lag and parked failures are measured. Default 5000 ms; 0 disables. */
  statsEveryMs?: number;
  /** Called after each committed batch (benchmarks, tests). */
  onCommit?: (info: { projection: string; events: number; position: Position; ms: number }) => void;
}

export type ProjectorState = 'starting' | 'standby' | 'catching_up' | 'live' | 'paused' | 'stopped' | 'failed';

/** Readiness degrades when a backlog exists and the checkpoint has not moved for this long. */
export const STALLED_AFTER_MS = 120_000;

export interface ProjectorStatus {
  projection: string;
  version: number;
  state: ProjectorState;
  leader: boolean;
  checkpoint?: { commit: string; prepare: string };
  lagEvents: number;
  lagSeconds: number;
  parked: number;
  lastProgressAt: number;
  stalled: boolean;
  lastError?: string;
}

/** Another instance wrote the checkpoint, or our lease connection died: stop writing, go standby. */
class LeadershipLost extends Error {}
/** A 'stop' projection met an event it cannot apply: halt until an operator acts. */
class PoisonStop extends Error {
  constructor(
    message: string,
    readonly eventId: string,
  ) {
    super(message);
  }
}
/** An operator paused the projection (`oa projections pause`): the batch rolled back; wait for resume. */
class ProjectionPaused extends Error {}

// Besides a lost connection: a serialization failure or deadlock rolled the batch back whole.
const RETRYABLE_TRANSACTION_CODES = new Set(['40001', '40P01']);

function isTransient(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return isConnectionError(error) || (code !== undefined && RETRYABLE_TRANSACTION_CODES.has(code));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Follows the event store in order and applies one projection, one Postgres transaction per
 * batch: checkpoint fence + read model + watermarks + journal commit together; listeners of the
 * journal are woken once it has committed. Only the lease holder writes; every batch is also fenced
 * on the checkpoint, so a stale leader's in-flight batch can never commit twice.
 */
export class ProjectorRunner {
  private stopping = false;
  private loop?: Promise<void>;
  private feed?: ReadAhead<SubscriptionMessage>;
  private statsTimer?: NodeJS.Timeout;
  private readonly lease: ProjectionLease;
  private readonly metrics: ProjectorMetrics;
  private readonly checkpointTable: CheckpointTable;
  private readonly failuresTable: FailuresTable;
  private readonly controlsTable: ControlsTable;
  private wakeStandby?: () => void;
  state: ProjectorState = 'starting';
  /** Position of the last batch this instance committed (or loaded when it took the lease). */
  lastCommitted?: Position;
  lastError?: string;
  batchesCommitted = 0;
  eventsCommitted = 0;
  private stats = { lagEvents: 0, lagSeconds: 0, parked: 0, observed: undefined as Position | undefined, lastProgressAt: Date.now() };

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    readonly projection: Projection,
    private readonly logger: Logger,
    private readonly options: ProjectorOptions = {},
  ) {
    this.checkpointTable = options.checkpointTable ?? DEFAULT_CHECKPOINT_TABLE;
    this.failuresTable = options.failuresTable ?? (`${this.checkpointTable.split('.')[0]}.projection_failures` as FailuresTable);
    this.controlsTable = `${this.checkpointTable.split('.')[0]}.projection_controls` as ControlsTable;
    this.lease = options.lease ?? new AdvisoryLease(db, `khala.projection:${this.checkpointTable}:${projection.name}`);
    this.metrics = projectorMetrics(options.metrics);
  }

  get isLeader(): boolean {
    return this.lease.held;
  }

  start(): void {
    this.loop = this.main().catch((error: Error) => {
      this.state = 'failed';
      this.lastError = error.message;
      this.logger.error({ err: error, projection: this.projection.name }, 'projector stopped on an error');
    });
    const every = this.options.statsEveryMs ?? 5000;
    if (every > 0) {
      this.statsTimer = setInterval(() => void this.refreshStats().catch(() => undefined), every);
      this.statsTimer.unref();
      void this.refreshStats().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    this.wakeStandby?.();
    this.feed?.close();
    await this.loop;
    if (this.state !== 'failed') this.state = 'stopped';
  }

  status(): ProjectorStatus {
    const stalled = this.stats.lagEvents > 0 && Date.now() - this.stats.lastProgressAt > STALLED_AFTER_MS;
    return {
      projection: this.projection.name,
      version: this.projection.version,
      state: this.state,
      leader: this.lease.held,
      checkpoint: this.stats.observed && { commit: this.stats.observed.commit.toString(), prepare: this.stats.observed.prepare.toString() },
      lagEvents: this.stats.lagEvents,
      lagSeconds: this.stats.lagSeconds,
      parked: this.stats.parked,
      lastProgressAt: this.stats.lastProgressAt,
      stalled,
      lastError: this.lastError,
    };
  }

  /** Measures lag from the stored checkpoint, so a standby reports the leader's progress too. */
  async refreshStats(): Promise<void> {
    const name = this.projection.name;
    const stored = (await loadCheckpoint(this.db, name, this.checkpointTable))?.position;
    const moved = stored && (!this.stats.observed || comparePositions(stored, this.stats.observed) !== 0);
    if (moved) this.stats.lastProgressAt = Date.now();
    this.stats.observed = stored;
    const backlog = await measureBacklog(this.store, this.db, this.projection.filter, stored);
    if (backlog.events === 0) this.stats.lastProgressAt = Date.now();
    this.stats.lagEvents = backlog.events;
    this.stats.lagSeconds = backlog.ageSeconds;
    this.stats.parked = await countParked(this.db, name, this.failuresTable).catch(() => 0);
    this.metrics.lagEvents.set({ projection: name }, backlog.events);
    this.metrics.lagSeconds.set({ projection: name }, backlog.ageSeconds);
    this.metrics.parked.set({ projection: name }, this.stats.parked);
    if (stored) this.metrics.checkpoint.set({ projection: name }, Number(stored.prepare));
  }

  private async main(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      this.state = 'standby';
      this.metrics.leader.set({ projection: this.projection.name }, 0);
      if (!(await this.acquireLease())) break;
      this.metrics.leader.set({ projection: this.projection.name }, 1);
      try {
        await this.follow();
        failures = 0;
      } catch (error) {
        if (error instanceof PoisonStop) {
          // Halted (state 'failed', as readiness reports it) until an operator skips or retries the event.
          this.state = 'failed';
          this.lastError = error.message;
          this.logger.error({ projection: this.projection.name, event_id: error.eventId }, error.message);
          await this.lease.release().catch(() => undefined);
          await this.waitForOperator(error.eventId);
          continue;
        }
        this.lastError = (error as Error).message;
        if (error instanceof LeadershipLost) {
          this.logger.warn({ projection: this.projection.name, reason: this.lastError }, 'projector lost its lease; standing by');
        } else if (!this.stopping) {
          failures += 1;
          this.logger.error({ err: error, projection: this.projection.name }, 'projector failed; restarting from the checkpoint');
          await sleep(this.backoff(failures));
        }
      } finally {
        this.feed = undefined;
        await this.lease.release().catch(() => undefined);
      }
    }
  }

  /** Sleeps until woken by stop() or the standby retry interval passes. */
  private async pause(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.leaseRetryMs ?? 1000);
      this.wakeStandby = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** A halted 'stop' projection resumes once the parked event is skipped or marked for retry. */
  private async waitForOperator(eventId: string): Promise<void> {
    while (!this.stopping) {
      const status = await failureStatus(this.db, this.projection.name, eventId, this.failuresTable).catch(() => 'parked');
      if (status !== 'parked') return;
      await this.pause();
    }
  }

  private async waitWhilePaused(): Promise<void> {
    while (!this.stopping && (await isPaused(this.db, this.projection.name, this.controlsTable))) {
      this.state = 'paused';
      await this.pause();
    }
  }

  private async acquireLease(): Promise<boolean> {
    while (!this.stopping) {
      try {
        if (await this.lease.tryAcquire()) return true;
      } catch (error) {
        this.lastError = (error as Error).message;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.leaseRetryMs ?? 1000);
        this.wakeStandby = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return false;
  }

  private async follow(): Promise<void> {
    const { name, filter } = this.projection;
    const checkpoint = await loadCheckpoint(this.db, name, this.checkpointTable);
    this.lastCommitted = checkpoint?.position;
    const maxBatch = this.options.maxBatchSize ?? 5000;
    const liveBatch = Math.min(maxBatch, this.options.liveBatchSize ?? 200);
    const flushAfterMs = this.options.flushAfterMs ?? 5;
    const idleEvery = this.options.idleCheckpointEveryMs ?? 1000;
    const subscription = this.store.subscribeToAll({ fromPosition: checkpoint?.position ?? 'start', filter });
    const feed = new ReadAhead(subscription[Symbol.asyncIterator](), maxBatch * 2);
    this.feed = feed;
    if (this.stopping) feed.close();
    this.state = 'catching_up';
    let live = false;
    let lastIdleSave = 0;
    try {
      while (!this.stopping) {
        if (!this.lease.held) throw new LeadershipLost('lease connection lost');
        const limit = live ? liveBatch : maxBatch;
        const events: RecordedEvent[] = [];
        let position: Position | undefined;
        let ended = false;
        for (;;) {
          // Catch-up waits for the read-ahead to refill (it is reading the next page); live flushes when quiet.
          const message = await feed.next(events.length === 0 ? undefined : live ? flushAfterMs : 250);
          if (message === TIMEOUT) break;
          if (message === ENDED) {
            ended = true;
            break;
          }
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
            } else if (Date.now() - lastIdleSave >= idleEvery && this.isAhead(message.position)) {
              position = message.position;
              lastIdleSave = Date.now();
              break;
            }
          } else {
            live = true;
            this.state = 'live';
            feed.setHighWater(this.options.liveReadAhead ?? 1);
            if (events.length) break;
          }
        }
        if (position && !this.stopping) await this.commitBatch(events, position);
        if (ended) {
          if (this.stopping) return;
          throw new Error('event store subscription ended');
        }
      }
    } finally {
      feed.close();
      await subscription.close().catch(() => undefined);
    }
  }

  private isAhead(position: Position): boolean {
    return !this.lastCommitted || comparePositions(position, this.lastCommitted) > 0;
  }

  private backoff(attempt: number): number {
    return Math.min(5000, (this.options.retryBaseMs ?? 50) * 2 ** (attempt - 1));
  }

  /**
   * Reads every event through the projection's contract first: an event it cannot read is poison
   * at once, with no retries (its bytes will not change) and no fold, so it never reaches a read
   * model or the journal. The readable runs between such events commit as usual, each up to the
   * event before the next poison, so the checkpoint never passes an event that was not handled.
   */
  private async commitBatch(events: RecordedEvent[], position: Position): Promise<void> {
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

  /** Commits read events; a batch that keeps failing is split in halves until the poison event is alone. */
  private async commitReadable(events: RecordedEvent[], position: Position, attempts = this.options.maxAttempts ?? 3): Promise<void> {
    const error = await this.commitWithRetry(events, position, events.length === 1 ? (this.options.maxAttempts ?? 3) : attempts);
    if (!error) return;
    if (events.length === 0) throw error;
    if (events.length === 1) return this.parkOrStop(events[0], error);
    const middle = Math.ceil(events.length / 2);
    const first = events.slice(0, middle);
    await this.commitReadable(first, first[first.length - 1].position, 1);
    await this.commitReadable(events.slice(middle), position, 1);
  }

  /** Undefined when committed; the error when a non-transient failure outlasted its attempts. */
  private async commitWithRetry(events: RecordedEvent[], position: Position, attempts: number): Promise<unknown> {
    let transientFailures = 0;
    for (let attempt = 1; ; ) {
      try {
        await this.commitOnce(events, position);
        return undefined;
      } catch (error) {
        if (error instanceof LeadershipLost || this.stopping) throw error;
        if (error instanceof ProjectionPaused) {
          const before = this.state;
          await this.waitWhilePaused();
          if (this.stopping) throw error;
          this.state = before === 'paused' ? 'catching_up' : before;
          continue;
        }
        if (isTransient(error)) {
          // The database is away: wait for it as long as it takes (readiness reports the stall).
          transientFailures += 1;
          this.lastError = (error as Error).message;
          this.logger.warn({ err: error, projection: this.projection.name }, 'projection batch hit a transient error; retrying');
          await sleep(this.backoff(transientFailures));
          continue;
        }
        if (attempt >= attempts) return error;
        this.logger.warn({ err: error, projection: this.projection.name, attempt, events: events.length }, 'projection batch failed; retrying');
        await sleep(this.backoff(attempt));
        attempt += 1;
      }
    }
  }

  private async commitOnce(events: RecordedEvent[], position: Position, park?: { event: RecordedEvent; error: unknown; attempts: number }): Promise<void> {
    if (!this.lease.held) throw new LeadershipLost('lease connection lost');
    const started = performance.now();
    const { name, version } = this.projection;
    await this.db.transaction(
      async (tx, [fence, paused]) => {
        if (!fenceSucceeded(fence)) throw new LeadershipLost('the checkpoint moved under this instance (another writer)');
        if (pausedIn(paused)) throw new ProjectionPaused(`projection ${name} is paused`);
        if (park) await parkFailure(tx, name, park.event, park.error, park.attempts, this.failuresTable);
        if (events.length) await this.projection.project(tx, events);
      },
      {
        // BEGIN, the fence, then the pause check, in one round trip. The pause check runs after the
        // fence has the checkpoint row lock: `oa projections pause` waits for that lock, so once it
        // returns no batch that saw "not paused" can still be in flight.
        openWith: [
          checkpointFenceStatement(name, version, this.lastCommitted, position, this.checkpointTable),
          pausedStatement(name, this.controlsTable),
        ],
      },
    );
    // After the commit, not inside it: a NOTIFY in the batch would hold the cluster-wide notify
    // lock through the commit (see committed-notices.ts). Gateways in this process wake at once.
    if (events.length) this.db.notifyCommitted(JOURNAL_CHANNEL);
    const ms = performance.now() - started;
    this.lastCommitted = position;
    this.batchesCommitted += 1;
    this.eventsCommitted += events.length;
    this.metrics.batchSeconds.observe({ projection: name }, ms / 1000);
    if (events.length) this.metrics.events.inc({ projection: name }, events.length);
    this.options.onCommit?.({ projection: name, events: events.length, position, ms });
  }

  /**
   * 'continue': park and move past it in one transaction. 'stop': park and halt (unless an operator
   * skipped it). `attempts`: how often it was tried (1 for an event the contract refused).
   */
  private async parkOrStop(event: RecordedEvent, error: unknown, attempts = this.options.maxAttempts ?? 3): Promise<void> {
    const name = this.projection.name;
    const skipped = await isSkipped(this.db, name, event.id, this.failuresTable).catch(() => false);
    this.logger.error(
      { err: error, projection: name, event_id: event.id, stream: event.stream, revision: event.revision.toString(), type: event.type },
      skipped ? 'poison event skipped by an operator' : 'poison event parked',
    );
    if (skipped || (this.projection.failurePolicy ?? 'stop') === 'continue') {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.commitOnce([], event.position, { event, error, attempts });
          this.stats.parked += skipped ? 0 : 1;
          return;
        } catch (parkError) {
          if (parkError instanceof LeadershipLost || this.stopping || !isTransient(parkError)) throw parkError;
          await sleep(this.backoff(attempt));
        }
      }
    }
    await this.db.transaction((tx) => parkFailure(tx, name, event, error, attempts, this.failuresTable)).catch(() => undefined);
    throw new PoisonStop(`event ${event.id} (${event.type} in ${event.stream}) cannot be projected: ${(error as Error)?.message ?? error}`, event.id);
  }
}
