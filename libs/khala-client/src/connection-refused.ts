/**
 * The gateway refuses a socket before the upgrade (HTTP 401: missing, invalid or expired token;
 * 403: Origin not allowed). Retrying cannot fix that, so the client stops and reports it instead
 * of reconnecting forever.
 */
export class ConnectionRefusedError extends Error {
  readonly code = 'connection_refused';

  constructor(
    /** The handshake's HTTP status; 0 when there was no usable token to send. */
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionRefusedError';
  }
}

const REFUSING_STATUSES = new Set([401, 403]);

/**
 * Pure: the refusing HTTP status a failed WebSocket handshake reports, if it reports one. The `ws`
 * package's error event says "Unexpected server response: 401"; browsers (and undici) hide the
 * status, so there a refusal looks like a network failure and is retried with backoff.
 */
export function handshakeRefusalStatus(errorEvent: unknown): number | undefined {
  const event = errorEvent as { message?: unknown; error?: { message?: unknown } } | null | undefined;
  const message = typeof event?.message === 'string' ? event.message : typeof event?.error?.message === 'string' ? event.error.message : '';
  const match = /unexpected server response: (\d{3})/i.exec(message);
  const status = match ? Number(match[1]) : undefined;
  return status !== undefined && REFUSING_STATUSES.has(status) ? status : undefined;
}

/** A ConnectionRefusedError, also one from another copy of this module (an ESM and a CJS import of the package). */
export function isRefusal(error: unknown): error is ConnectionRefusedError {
  return error instanceof Error && (error as { code?: unknown }).code === 'connection_refused';
}
