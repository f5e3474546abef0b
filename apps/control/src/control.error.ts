import { codedError, ErrorKind } from '@khala/platform/errors/domain-error';
import type { ControlRule } from './shared/domain/control-rules';

export type ControlErrorCode =
  | ControlRule
  | 'email_taken'
  | 'invalid_credentials'
  | 'rate_limited'
  | 'invalid_scope'
  | 'device_mismatch'
  | 'nothing_to_revoke'
  | 'not_a_member'
  | 'api_token_not_allowed'
  | 'concurrency_conflict'
  | 'projection_lagging';

const KINDS: Record<ControlErrorCode, ErrorKind> = {
  email_taken: 'conflict',
  invalid_credentials: 'unauthenticated',
  rate_limited: 'rate_limited',
  invalid_scope: 'rule_violation',
  device_mismatch: 'rule_violation',
  nothing_to_revoke: 'invalid',
  forbidden: 'forbidden',
  not_a_member: 'forbidden',
  already_member: 'conflict',
  api_token_not_allowed: 'forbidden',
  user_not_found: 'not_found',
  org_not_found: 'not_found',
  session_not_found: 'not_found',
  token_not_found: 'not_found',
  user_exists: 'conflict',
  org_exists: 'conflict',
  session_exists: 'conflict',
  token_exists: 'conflict',
  concurrency_conflict: 'conflict',
  projection_lagging: 'unavailable',
};

/**
 * The control app's one error type; the HTTP filter maps its kind to a status. Deciders refuse
 * with RuleViolation instead (control-commands.ts turns it into this).
 */
export class ControlError extends codedError(KINDS) {}
