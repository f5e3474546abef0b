import { EventFilter, RecordedEvent } from '@khala/eventstore';
import { CommittedJournalRow } from '@khala/contracts';
import { Queryable } from '@khala/platform';
import { EventReader } from './event-reader';

/** What the runner does with an event that still fails after its retries. */
export type FailurePolicy = 'stop' | 'continue';

/**
 * A named, versioned projection. `project` runs inside the batch transaction the runner opens, so
 * its read-model writes, journal rows and the checkpoint commit together or not at all. It must
 * be set-based and deterministic for the batch: the runner may re-run a batch (after a rollback)
 * or split it into single events (to find a poison event).
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  readonly filter: EventFilter;
  /** Default 'stop': a projection that may skip an event says so. */
  readonly failurePolicy?: FailurePolicy;
  /**
   * How each event is read before `project` (default readRecordedEvent: the event contract, with
   * upcasting to the current schema_version). An event it refuses is poison at once: parked, then
   * skipped or halted on per failurePolicy, and never passed to `project`.
   */
  readonly readEvent?: EventReader;
  /**
   * Returns the journal rows it wrote, if it says: the runner hands them to this process's gateway
   * with the post-commit wake-up, which then need not read them back.
   */
  project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void | readonly CommittedJournalRow[]>;
}

/**
 * Runs a projection under another name and/or over other streams, into the same read model:
 * for isolated tests and scratch replays (the checkpoint and lease follow the name).
 */
export interface ProjectionOverrides {
  name?: string;
  filter?: EventFilter;
  /**
   * Another table of the same shape (a rebuild's shadow table, a scratch replay schema). Together
   * with `journal: false` it projects without touching production tables or the journal.
   */
  table?: string;
  /** false: write the read model only (no watermarks, no journal rows; summary watermark 0). */
  journal?: boolean;
  /** Another policy for poison events (tests, scratch replays). */
  failurePolicy?: FailurePolicy;
}
