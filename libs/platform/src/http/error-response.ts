import { ErrorKind } from '../errors/domain-error';

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rule_violation: 422,
  rate_limited: 429,
  unavailable: 503,
};

/** The one error body of every HTTP route (api.md). */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
  correlation_id: string;
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08003', '08006', '53300']);

/** Postgres down or restarting: the caller should retry, nothing was acknowledged. */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  const message = String((error as Error)?.message ?? '');
  return /Connection terminated|timeout exceeded when trying to connect/i.test(message);
}
