import { deepStrictEqual, fail, strictEqual } from 'node:assert/strict';
import { Decider, DomainEvent, RuleViolation } from '../decider';

/** As the store keeps it: JSON, so a field left undefined is a field left out. */
const asStored = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

/**
 * Given-when-then for pure deciders (Emmett's DeciderSpecification): fold the given events,
 * decide the command, check the decided events or the refusal. No framework (node:assert), so
 * any test runner reports its failures.
 *
 *   const given = deciderSpecification(runDecider);
 *   given([created]).when(cancel()).then([cancelRequested, canceled]);
 *   given([]).when(cancel()).thenRefused('run_not_found');
 */
export function deciderSpecification<Command, Event extends DomainEvent, State>(decider: Decider<Command, Event, State>) {
  return (given: Event[]) => ({
    when(command: Command) {
      const state = given.reduce(decider.evolve, decider.initialState());
      const decide = () => decider.decide(command, state);
      return {
        then(expected: Event[]): void {
          deepStrictEqual(asStored(decide()), asStored(expected));
        },
        thenNothing(): void {
          deepStrictEqual(decide(), []);
        },
        /** Refused with `rule` (and, when given, exactly these details). */
        thenRefused(rule: string, details?: Record<string, unknown>): void {
          try {
            decide();
          } catch (error) {
            if (!(error instanceof RuleViolation)) throw error;
            strictEqual(error.rule, rule, `refused with ${error.rule} (${error.message}), expected ${rule}`);
            if (details !== undefined) deepStrictEqual(asStored(error.details), asStored(details));
            return;
          }
          fail(`expected a refusal (${rule}), but the command was accepted`);
        },
        /** The decided events, for checks beyond equality (each event's contract). */
        events(): Event[] {
          return decide();
        },
        /** The state after the given events and the decided ones. */
        state(): State {
          return decide().reduce(decider.evolve, state);
        },
      };
    },
  });
}
