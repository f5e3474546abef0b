import { v5 as uuidv5 } from 'uuid';

// Fixed namespace: changing it would make every retried command look new.
const KHALA_EVENT_NAMESPACE = '6f1b8e2a-4c1d-5e3f-9a7b-2d4c6e8f0a1b';

/**
 * The id of the `index`-th event a command produces, derived from the command's idempotency key,
 * so that retrying the same command appends nothing twice.
 */
export function deterministicEventId(idempotencyKey: string, index: number): string {
  return uuidv5(`${idempotencyKey}#${index}`, KHALA_EVENT_NAMESPACE);
}
