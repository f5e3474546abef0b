import { encodeEventData } from '@khala/contracts';
import { CommandExecutor, RuleViolation } from '@khala/eventstore';
import { RuntimeError } from '../runtime.error';
import { commandId } from './command-key';
import type { RuntimeRule } from './domain/runtime-rules';

/**
 * How runtime runs its commands (@khala/eventstore's CommandExecutor): one queue per stream in
 * this process with batched appends, the last state of each stream kept, event data encoded
 * through the contracts registry (stored data is the proto-JSON of the message), and refusals and
 * lost races as RuntimeError.
 */
export const runtimeCommands = new CommandExecutor({
  /**
   * Attempts before a batch that keeps losing the optimistic race to another process is reported
   * as 409 concurrency_conflict. Within one process commands never race (they queue per stream);
   * an attempt after a lost race reads only the events appended since, so attempts are cheap, and
   * on Postgres a losing append has waited for the winner's commit, which paces them.
   */
  maxAttempts: 100,
  /**
   * Full jitter over an exponential ceiling. Kept short: the loser wins when the other process
   * leaves a gap between its appends (see fairness), and it has to be quick to use it; the jitter
   * only keeps several losers from retrying in lockstep.
   */
  backoff: { baseMs: 0.5, capMs: 20 },
  queue: {
    /** A batch takes at most this many queued commands, and stops taking more once it holds maxBatchEvents events. */
    maxBatchCommands: 64,
    maxBatchEvents: 1000,
    /** A stream this process keeps busy leaves a gap now and then for another process's retry. */
    fairness: { pauseAfterBatches: 8, pauseFactor: 2, maxPauseMs: 50 },
  },
  stateCache: true,
  encodeData: encodeEventData,
  // Stable across retries of one Idempotency-Key: a retry tells its crashed attempt's events from others'.
  causationId: commandId,
  refusal: (violation: RuleViolation) =>
    new RuntimeError(violation.rule as RuntimeRule, violation.message, violation.details),
  conflict: (stream, attempts) =>
    new RuntimeError('concurrency_conflict', `${stream} kept changing under this command; retry it`, { attempts }),
});
