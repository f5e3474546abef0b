/**
 * The rules runtime's deciders refuse commands with (RuleViolation's `rule`). The command executor
 * turns a refusal into a RuntimeError of the same code, whose kind sets the status.
 */
export type RuntimeRule =
  | 'run_not_found'
  | 'run_exists'
  | 'run_terminal'
  | 'invalid_frame_sequence'
  | 'worker_not_found'
  | 'worker_exists'
  | 'worker_stopped'
  | 'worker_stopping'
  | 'invalid_event_type';
