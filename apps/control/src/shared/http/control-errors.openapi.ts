import { BEARER_TOKEN, ErrorCatalog, EVERY_ROUTE, JSON_BODY, mergeErrorCatalogs } from '@khala/platform';

/**
 * A control command: a JSON body, appended with optimistic concurrency, then waited for until the
 * read models show it (ReadYourWrites: 503 projection_lagging, retryable, when they do not in time).
 */
export const CONTROL_COMMAND: ErrorCatalog = mergeErrorCatalogs(EVERY_ROUTE, JSON_BODY, {
  409: ['concurrency_conflict'],
  503: ['projection_lagging'],
});

/** A route for signed-in callers (AccessTokenGuard). */
export const SIGNED_IN: ErrorCatalog = mergeErrorCatalogs(EVERY_ROUTE, BEARER_TOKEN);

/** A route only a session may call: a personal API token is refused (requireSession). */
export const SESSION_ONLY: ErrorCatalog = mergeErrorCatalogs(SIGNED_IN, { 403: ['api_token_not_allowed'] });
