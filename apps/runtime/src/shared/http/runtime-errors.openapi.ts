import { BEARER_TOKEN, ErrorCatalog, EVERY_ROUTE, JSON_BODY, mergeErrorCatalogs, SCOPED } from '@khala/platform';

/** Every runtime route: a token with the route's scope. */
const RUNTIME_ROUTE = mergeErrorCatalogs(EVERY_ROUTE, BEARER_TOKEN, SCOPED);

/**
 * A runtime command route: a JSON body under Idempotency-Key (IdempotencyService), appended with
 * optimistic concurrency retried a few times (runtime-commands.ts) before 409 concurrency_conflict.
 */
export const RUNTIME_COMMAND: ErrorCatalog = mergeErrorCatalogs(RUNTIME_ROUTE, JSON_BODY, {
  400: ['invalid_idempotency_key'],
  409: ['idempotency_mismatch', 'idempotency_in_progress', 'concurrency_conflict'],
});

export const RUNTIME_READ: ErrorCatalog = RUNTIME_ROUTE;

/** `?min_revision=N` (ReadModelWait): retryable while the read model has not folded N. */
export const READ_YOUR_WRITES: ErrorCatalog = { 503: ['read_model_behind'] };
