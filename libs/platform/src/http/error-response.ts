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
