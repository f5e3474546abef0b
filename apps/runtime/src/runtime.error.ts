import { codedError, ErrorKind } from '@khala/platform/errors/domain-error';
import type { RuntimeRule } from './shared/domain/runtime-rules';

export type RuntimeErrorCode =
  | RuntimeRule
  | 'concurrency_conflict'
  | 'idempotency_mismatch'
  | 'idempotency_in_progress'
  | 'invalid_idempotency_key'
  | 'invalid_cursor'
  | 'read_model_behind';

const KINDS: Record<RuntimeErrorCode, ErrorKind> = {
  run_not_found: 'not_found',
  run_exists: 'conflict',
  run_terminal: 'conflict',
  invalid_frame_sequence: 'rule_violation',
  worker_not_found: 'not_found',
  worker_exists: 'conflict',
  worker_stopped: 'conflict',
  worker_stopping: 'conflict',
  invalid_event_type: 'rule_violation',
  concurrency_conflict: 'conflict',
  idempotency_mismatch: 'conflict',
  idempotency_in_progress: 'conflict',
  invalid_idempotency_key: 'invalid',
  invalid_cursor: 'invalid',
  // Retryable: the read model has not folded the requested revision yet (GET ...?min_revision=N).
  read_model_behind: 'unavailable',
};

/** The runtime app's one error type: a code, and the kind the transports map to a status. */
export class RuntimeError extends codedError(KINDS) {}
