import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { looksLikeCredential } from './credentials';

interface RequestContext {
  correlationId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `work` with a correlation id that logs, event metadata and journal rows pick up. */
export function runWithCorrelationId<T>(correlationId: string, work: () => T): T {
  return storage.run({ correlationId }, work);
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Accepts a caller's id only if it is short and plain, so it cannot inject into logs, and not
 * shaped like a token: an API token fits the plain charset, and a correlation id is logged, echoed
 * and stored in event metadata.
 */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && SAFE_ID.test(value) && !looksLikeCredential(value) ? value : randomUUID();
}
