import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

/** The one error body of every HTTP route (ErrorBody), as the OpenAPI documents describe it. */
export class ErrorResponse {
  @ApiProperty({ description: 'machine-readable; the codes each status can carry are listed per operation', example: 'validation_failed' })
  code!: string;

  @ApiProperty({ description: 'for people; may change wording between versions' })
  message!: string;

  @ApiPropertyOptional({ description: 'code-specific; for validation_failed a list of {field, errors: [one message]}' })
  details?: unknown;

  @ApiProperty({ description: 'the request\'s x-correlation-id, also in the logs' })
  correlation_id!: string;
}

/** Status → the error codes a route can answer with it. */
export type ErrorCatalog = Partial<Record<number, readonly string[]>>;

/** What every route can answer, whatever it does: an Origin refused by CORS_ORIGINS, a NUL in the URL, storage down, a bug. */
export const EVERY_ROUTE: ErrorCatalog = {
  400: ['validation_failed'],
  403: ['origin_not_allowed'],
  500: ['internal'],
  503: ['storage_unavailable'],
};

/** A route that reads a JSON body: what the body parser refuses before validation. */
export const JSON_BODY: ErrorCatalog = {
  400: ['validation_failed', 'malformed_json'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
};

/** A route behind AccessTokenGuard: each failed token check has its own code (AuthError). */
export const BEARER_TOKEN: ErrorCatalog = {
  401: ['missing_token', 'invalid_token', 'token_expired', 'unknown_kid', 'invalid_signature', 'claim_mismatch', 'session_revoked', 'token_revoked'],
};

/** A route with @RequireScope: a valid API token without that scope. */
export const SCOPED: ErrorCatalog = { 403: ['insufficient_scope'] };

export function mergeErrorCatalogs(...catalogs: ErrorCatalog[]): ErrorCatalog {
  const merged: Record<number, string[]> = {};
  for (const catalog of catalogs) {
    for (const [status, codes] of Object.entries(catalog)) {
      const list = (merged[Number(status)] ??= []);
      for (const code of codes ?? []) if (!list.includes(code)) list.push(code);
    }
  }
  return merged;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid request',
  401: 'not authenticated',
  403: 'not allowed',
  404: 'not found',
  409: 'conflict',
  413: 'body too large',
  415: 'body is not JSON',
  422: 'refused by a business rule',
  429: 'rate limited (Retry-After)',
  500: 'internal error',
  503: 'unavailable, retryable (Retry-After)',
};

/**
 * Declares every error status an operation can answer, each with the shared error body and the
 * `code` values it can carry. Give all catalogs in one call: a status declared twice on an
 * operation keeps only the last declaration.
 */
export function ApiErrors(...catalogs: ErrorCatalog[]): MethodDecorator {
  const merged = mergeErrorCatalogs(...catalogs);
  const responses = Object.entries(merged)
    .map(([status, codes]) => [Number(status), codes ?? []] as const)
    .sort(([a], [b]) => a - b)
    .map(([status, codes]) =>
      ApiResponse({
        status,
        description: `${STATUS_TEXT[status] ?? 'error'}: ${codes.join(', ')}`,
        schema: {
          allOf: [{ $ref: getSchemaPath(ErrorResponse) }, { type: 'object', properties: { code: { type: 'string', enum: [...codes] } } }],
        },
      }),
    );
  return applyDecorators(ApiExtraModels(ErrorResponse), ...responses) as MethodDecorator;
}
