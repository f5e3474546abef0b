import { DomainError, ErrorKind } from '@khala/platform';

export type RuntimeErrorCode = 'run_not_found' | 'run_exists' | 'concurrency_conflict' | 'idempotency_mismatch';

const KINDS: Record<RuntimeErrorCode, ErrorKind> = {
  run_not_found: 'not_found',
  run_exists: 'conflict',
  concurrency_conflict: 'conflict',
  idempotency_mismatch: 'conflict',
};

/** The runtime app's one error type: a code, and the kind the transports map to a status. */
export class RuntimeError extends DomainError {
  readonly kind: ErrorKind;
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    details?: unknown,
  ) {
    super(message, details);
    this.kind = KINDS[code];
  }
}
