import { randomUUID } from 'node:crypto';
import { Decider, DomainEvent, EventStore, executeCommand, isWrongExpectedVersion } from '@khala/eventstore';
import { ControlError } from '../control.error';
import { contractChecked } from './contract-checked';
import { StreamWrite } from './read-your-writes';

export interface Actor {
  userId: string;
  correlationId: string;
}

/**
 * executeCommand for control streams: contract-checked events, a unique idempotency key per
 * stream and command, and a conflict that survives the bounded retries surfaces as a 409.
 */
export async function executeOn<C, E extends DomainEvent, S>(
  store: EventStore,
  stream: string,
  decider: Decider<C, E, S>,
  command: C & { kind: string },
  actor: Actor,
): Promise<StreamWrite & { state: S }> {
  try {
    const outcome = await executeCommand(store, stream, contractChecked(decider), command, {
      idempotencyKey: `${stream}:${command.kind}:${randomUUID()}`,
      metadata: { correlation_id: actor.correlationId, causation_id: actor.correlationId, actor: actor.userId },
    });
    return { stream, revision: outcome.revision, state: outcome.state };
  } catch (error) {
    if (isWrongExpectedVersion(error)) throw new ControlError('concurrency_conflict', `${stream} changed concurrently; retry`);
    throw error;
  }
}
