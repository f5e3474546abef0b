/**
 * EventStoreDB refuses an append whose events sum to more than its `MaxAppendSize` (1 MiB unless
 * the server is configured otherwise). A request body bigger than that cannot become one append,
 * so an app on EventStoreDB refuses it at the edge (413) instead of decoding it first.
 */
export const ESDB_DEFAULT_MAX_APPEND_SIZE = 1_048_576;

/** The body limit for an app whose event store is `eventStoreUrl` (unset: the Postgres store). */
export function requestBodyLimitFor(eventStoreUrl: string | undefined, limitBytes: number): number {
  return eventStoreUrl ? Math.min(limitBytes, ESDB_DEFAULT_MAX_APPEND_SIZE) : limitBytes;
}
