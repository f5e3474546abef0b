/** Socket errors and Postgres codes meaning "the server went away or is refusing connections". */
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
]);

// node-postgres reports some of these only in the message.
const CONNECTION_ERROR_MESSAGE =
  /Connection terminated|connection (is )?closed|connection error|timeout exceeded when trying to connect|ECONNRESET|ECONNREFUSED/i;

/**
 * True when Postgres is unreachable or restarting: nothing was committed by the failed statement's
 * transaction, so the caller may retry (HTTP answers 503; followers back off and resume).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  return CONNECTION_ERROR_MESSAGE.test(String((error as Error | undefined)?.message ?? ''));
}
