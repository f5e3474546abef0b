import { isConnectionError } from '@khala/platform';

/** Another instance wrote the checkpoint, or our lease connection died: stop writing, go standby. */
export class LeadershipLost extends Error {}

/** A 'stop' projection met an event it cannot apply: halt until an operator acts. */
export class PoisonStop extends Error {
  constructor(
    message: string,
    readonly eventId: string,
  ) {
    super(message);
  }
}

/** An operator paused the projection (`oa projections pause`): the batch rolled back; wait for resume. */
export class ProjectionPaused extends Error {}

// Besides a lost connection: a serialization failure or deadlock rolled the batch back whole.
const RETRYABLE_TRANSACTION_CODES = new Set(['40001', '40P01']);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return isConnectionError(error) || (code !== undefined && RETRYABLE_TRANSACTION_CODES.has(code));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Delay before retry `attempt` (1-based): doubles from `baseMs`, capped at 5 s. */
export function backoff(attempt: number, baseMs = 50): number {
  return Math.min(5000, baseMs * 2 ** (attempt - 1));
}
