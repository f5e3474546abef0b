/**
 * The pure side of a command (Emmett/Marten style): what happened is folded into a state, and a
 * command is decided on that state into new events or refused. Nothing here does I/O, so domain
 * folders import this file (`@khala/eventstore/decider`), never the package barrel.
 */
export interface Decider<Command, Event extends DomainEvent, State> {
  initialState(): State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
}

/**
 * A command refused by a decider's rules. Transport-free: the command executor turns it into the
 * app's own error (its `refusal` option), whose kind sets the HTTP status. `Rule` names the codes a
 * domain may refuse with (each app declares its union next to its deciders).
 */
export class RuleViolation<Rule extends string = string> extends Error {
  constructor(
    readonly rule: Rule,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RuleViolation';
  }
}
