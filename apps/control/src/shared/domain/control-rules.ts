/**
 * The rules control's deciders refuse commands with (RuleViolation's `rule`). The command executor
 * turns a refusal into a ControlError of the same code, whose kind sets the status.
 */
export type ControlRule =
  | 'forbidden'
  | 'already_member'
  | 'user_not_found'
  | 'org_not_found'
  | 'session_not_found'
  | 'token_not_found'
  | 'user_exists'
  | 'org_exists'
  | 'session_exists'
  | 'token_exists';
