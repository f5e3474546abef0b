import { encodeEventData } from '@khala/contracts';
import { Decider, DomainEvent } from '@khala/eventstore';

/**
 * Every control event must be the proto-JSON of its message in proto/openagents/control/v1
 * (INV-01): a decider wrapped here refuses to emit anything else, and emits the normalised form.
 */
export function contractChecked<C, E extends DomainEvent, S>(decider: Decider<C, E, S>): Decider<C, E, S> {
  return {
    initialState: () => decider.initialState(),
    evolve: (state, event) => decider.evolve(state, event),
    decide: (command, state) =>
      decider.decide(command, state).map((event) => ({ ...event, data: encodeEventData(event.type, event.data) }) as E),
  };
}
