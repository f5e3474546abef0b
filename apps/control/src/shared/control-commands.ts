import { encodeEventData } from '@khala/contracts';
import { CommandExecutor, RuleViolation } from '@khala/eventstore';
import { ControlError } from '../control.error';
import type { ControlRule } from './domain/control-rules';

/**
 * How control runs its commands (@khala/eventstore's CommandExecutor): each command on its own
 * (no queue, no cached state: control's commands are few and rarely share a stream), a fresh key
 * per command, every event encoded through its contract (INV-01: the proto-JSON of its message in
 * proto/openagents/control/v1, nothing else is stored), refusals as ControlError, and a conflict
 * that survives the bounded retries as 409 concurrency_conflict. The outcome's `stream` and
 * `revision` are what ReadYourWrites waits for.
 */
export const controlCommands = new CommandExecutor({
  maxAttempts: 5,
  encodeData: encodeEventData,
  refusal: (violation: RuleViolation) => new ControlError(violation.rule as ControlRule, violation.message, violation.details),
  conflict: (stream) => new ControlError('concurrency_conflict', `${stream} changed concurrently; retry`),
});
