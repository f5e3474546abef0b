import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { EventStoreError } from '../event-store.error';

/**
 * EventStoreDB refuses an append whose events sum to more than its `MaxAppendSize` (1 MiB unless
 * the server is configured otherwise). A request body bigger than that cannot become one append,
 * so an app on EventStoreDB refuses it at the edge (413) instead of decoding it first.
 */
export const ESDB_DEFAULT_MAX_APPEND_SIZE = 1_048_576;

/**
 * The option in EVENTSTORE_URL that tells the apps the server's `MaxAppendSize` when it is not the
 * default (`…?tls=true&maxAppendSize=4194304`). Ours, not the client library's: removed from the
 * URL before the client parses it.
 */
const MAX_APPEND_SIZE_OPTION = /^maxAppendSize=/i;

function splitQuery(url: string): { base: string; options: string[] } {
  const mark = url.indexOf('?');
  return mark === -1 ? { base: url, options: [] } : { base: url.slice(0, mark), options: url.slice(mark + 1).split('&').filter(Boolean) };
}

/** The append limit the store at `eventStoreUrl` enforces: its `maxAppendSize` option, else the server default. */
export function maxAppendSizeOf(eventStoreUrl: string): number {
  const option = splitQuery(eventStoreUrl).options.find((candidate) => MAX_APPEND_SIZE_OPTION.test(candidate));
  if (!option) return ESDB_DEFAULT_MAX_APPEND_SIZE;
  const value = option.slice(option.indexOf('=') + 1);
  const bytes = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`EVENTSTORE_URL: maxAppendSize must be a positive whole number of bytes, got "${value}"`);
  }
  return bytes;
}

/** The URL without our `maxAppendSize` option (what the client library parses). */
export function withoutMaxAppendSize(eventStoreUrl: string): string {
  const { base, options } = splitQuery(eventStoreUrl);
  const kept = options.filter((option) => !MAX_APPEND_SIZE_OPTION.test(option));
  return kept.length ? `${base}?${kept.join('&')}` : base;
}

/** The body limit for an app whose event store is `eventStoreUrl` (unset: the Postgres store). */
export function requestBodyLimitFor(eventStoreUrl: string | undefined, limitBytes: number): number {
  return eventStoreUrl ? Math.min(limitBytes, maxAppendSizeOf(eventStoreUrl)) : limitBytes;
}

export function appendTooLarge(limit: number, what: string, stream?: string): EventStoreError {
  return new EventStoreError('APPEND_TOO_LARGE', `${what} is over the event store's append limit of ${limit} bytes (EventStoreDB MaxAppendSize)`, {
    stream,
    maxAppendSize: limit,
  });
}

/**
 * Refuses a request whose declared body is over the store's append limit before any handler runs
 * (413 APPEND_TOO_LARGE): it could never be stored. A Nest guard reading only the Content-Length
 * header, so it works the same on any HTTP adapter; a body without one (chunked) is measured by
 * the adapter itself before it appends (EsdbEventStore.append).
 */
@Injectable()
export class AppendSizeGuard implements CanActivate {
  constructor(private readonly limitBytes: number) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<{ headers?: Record<string, string | string[] | undefined> }>();
    const declared = Number(request.headers?.['content-length'] ?? 0);
    if (declared > this.limitBytes) throw appendTooLarge(this.limitBytes, `a request body of ${declared} bytes`);
    return true;
  }
}
