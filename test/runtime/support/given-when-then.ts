import type { Decider, DomainEvent } from '@khala/eventstore';
import { RuleCode, RuleViolation } from '../../../apps/runtime/src/shared/domain/rule-violation';

/**
 * Given-when-then for pure deciders (Emmett style): fold the given events, decide the command,
 * and check the decided events or the refused rule. Test support, no framework.
 */
export function specFor<Command, Event extends DomainEvent, State>(decider: Decider<Command, Event, State>) {
  return (given: Event[]) => ({
    when(command: Command) {
      const state = given.reduce(decider.evolve, decider.initialState());
      const decide = () => decider.decide(command, state);
      return {
        then(expected: Event[]) {
          expect(decide()).toEqual(expected);
        },
        thenNothing() {
          expect(decide()).toEqual([]);
        },
        thenRefused(rule: RuleCode) {
          let error: unknown;
          try {
            decide();
          } catch (caught) {
            error = caught;
          }
          expect(error).toBeInstanceOf(RuleViolation);
          expect((error as RuleViolation).rule).toBe(rule);
        },
        /** The state after the given events and the decided ones. */
        state(): State {
          return decide().reduce(decider.evolve, state);
        },
      };
    },
  });
}
