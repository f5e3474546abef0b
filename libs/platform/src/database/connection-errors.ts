/**
 * Socket errors and Postgres codes meaning "the server went away, is refusing connections or cannot
 * write right now": the statement's transaction committed nothing and the same work may be retried.
 */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '53300', // too_many_connections
  // Out of disk: the write failed whole. Retrying (a 503 for HTTP, back-off for the projector) is
  // right; treating it as a poison event would park every event projected while the disk was full.
  '53100', // disk_full
]);

// node-postgres reports some of these only in the message.
const CONNECTION_ERROR_MESSAGE =
  /Connection terminated|connection (is )?closed|connection error|timeout exceeded when trying to connect|ECONNRESET|ECONNREFUSED/i;

/**
 * True when Postgres is unreachable, restarting or out of disk: nothing was committed by the failed statement's
 * transaction, so the caller may retry (HTTP answers 503; followers back off and resume).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  return CONNECTION_ERROR_MESSAGE.test(String((error as Error | undefined)?.message ?? ''));
}
