/** The scopes live in libs/auth, next to the guard that enforces them on every app's routes. */
export { API_TOKEN_SCOPES, ApiTokenScope } from '@khala/auth';
