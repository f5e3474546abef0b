import { Principal } from '@khala/auth';
import { ControlError } from '../control.error';

/**
 * Account management (sessions, API tokens, memberships) needs a signed-in session: a leaked
 * personal API token, whatever its scopes, must not list or revoke the user's sessions and tokens.
 */
export function requireSession(principal: Principal, what: string): void {
  if (principal.via === 'api_token') throw new ControlError('api_token_not_allowed', `${what} needs a signed-in session, not an API token`);
}
