/**
 * A command refused by a decider. Pure (no Nest, no HTTP): the command handler turns `rule` into a
 * RuntimeError of the same code, whose kind sets the status.
 */
export type RuleCode =
  | 'run_not_found'
  | 'run_exists'
  | 'run_terminal'
  | 'invalid_frame_sequence'
  | 'worker_not_found'
  | 'worker_exists'
  | 'worker_stopped'
  | 'worker_stopping'
  | 'invalid_event_type';

export class RuleViolation extends Error {
  constructor(
    readonly rule: RuleCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RuleViolation';
  }
}
