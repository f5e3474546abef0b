import { Position } from '@khala/eventstore';
import type { Registry } from 'prom-client';
import { ProjectionLease } from '../leader-lease';
import { CheckpointTable, FailuresTable } from '../projection-tables';

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
  /** Prometheus registry for the khala_projection_* series (default: a private one). */
  metrics?: Registry;
  /** How often lag and parked failures are measured. Default 5000 ms; 0 disables. */
  statsEveryMs?: number;
  /** Called after each committed batch (benchmarks, tests). */
  onCommit?: (info: { projection: string; events: number; position: Position; ms: number }) => void;
}

export type ProjectorState =
  | 'starting'
  | 'standby'
  | 'catching_up'
  | 'live'
  | 'paused'
  | 'stopped'
  | 'failed';

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

/** What the runner's parts share about one runner: written by the part that knows, read by all. */
export interface RunnerProgress {
  state: ProjectorState;
  stopping: boolean;
  /** Position of the last batch this instance committed (or loaded when it took the lease). */
  lastCommitted?: Position;
  lastError?: string;
  batchesCommitted: number;
  eventsCommitted: number;
}
