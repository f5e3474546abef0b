import { encodeEventData } from '@khala/contracts';
import {
  Decider,
  deterministicEventId,
  DomainEvent,
  EventStore,
  EventStoreError,
  isWrongExpectedVersion,
  NewEvent,
} from '@khala/eventstore';
import { RuntimeError } from '../runtime.error';
import { RuleViolation } from './domain/rule-violation';

export interface RuntimeCommandContext<Event extends DomainEvent> {
  /**
   * Scopes the ids of the events this command appends: a re-executed command (a retry after a
   * lost response, or after a crash before the idempotency record was completed) finds its own
   * events already in the stream and appends nothing.
   */
  commandKey: string;
  correlationId: string;
  actor: string;
  /** Overrides the id of one event (frames: the id derives from run_id + frame_id instead). */
  eventId?: (event: Event, index: number) => string | undefined;
}

export interface RuntimeCommandOutcome<State> {
  state: State;
  /** Revision of the stream's last event after the command (-1n while empty). */
  revision: bigint;
  appended: number;
  /** The events this execution appended, in order. */
  appendedEvents: NewEvent[];
  /** True when the stream already held this command's events (nothing was appended now). */
  replayed: boolean;
}

/** Attempts before a lost optimistic-concurrency race is reported as 409 concurrency_conflict. */
export const MAX_COMMAND_ATTEMPTS = 12;

/**
 * load → fold → decide → append with the exact expected revision; on WRONG_EXPECTED_VERSION,
 * reload and decide again (bounded, with jitter so 20 racing writers spread out), then 409.
 *
 * Like @khala/eventstore's executeCommand, plus what runtime commands need: per-event id
 * overrides (frames), recognising a re-executed command by its first event id, event data
 * encoded through the contracts registry (so stored data is the proto-JSON of the message), and
 * rule violations and conflicts translated to RuntimeError.
 */
export async function executeRuntimeCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  context: RuntimeCommandContext<Event>,
  maxAttempts = MAX_COMMAND_ATTEMPTS,
): Promise<RuntimeCommandOutcome<State>> {
  const replayMarker = deterministicEventId(context.commandKey, 0);
  for (let attempt = 1; ; attempt++) {
    const { state, revision, eventIds } = await loadStream(store, stream, decider);
    if (eventIds.has(replayMarker)) return { state, revision, appended: 0, appendedEvents: [], replayed: true };
    let decided: Event[];
    try {
      decided = decider.decide(command, state);
    } catch (error) {
      if (error instanceof RuleViolation) throw new RuntimeError(error.rule, error.message, error.details);
      throw error;
    }
    const events: NewEvent[] = decided
      .map((event, index) => ({
        id: context.eventId?.(event, index) ?? deterministicEventId(context.commandKey, index),
        type: event.type,
        data: encodeEventData(event.type, event.data),
        metadata: { correlation_id: context.correlationId, causation_id: context.correlationId, actor: context.actor, schema_version: 1 },
      }))
      .filter((event) => !eventIds.has(event.id));
    if (events.length === 0) return { state, revision, appended: 0, appendedEvents: [], replayed: decided.length > 0 };
    try {
      const result = await store.append(stream, events, { expectedRevision: revision < 0n ? 'no_stream' : revision });
      const next = decided.reduce((current, event) => decider.evolve(current, event), state);
      return { state: next, revision: result.nextExpectedRevision, appended: events.length, appendedEvents: events, replayed: false };
    } catch (error) {
      if (!isWrongExpectedVersion(error)) throw error;
      if (attempt >= maxAttempts) {
        throw new RuntimeError('concurrency_conflict', `${stream} kept changing under this command; retry it`, {
          attempts: attempt,
        });
      }
      await sleep(Math.random() * 4 * attempt);
    }
  }
}

async function loadStream<Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
): Promise<{ state: State; revision: bigint; eventIds: Set<string> }> {
  let state = decider.initialState();
  let revision = -1n;
  const eventIds = new Set<string>();
  try {
    for await (const recorded of store.readStream(stream)) {
      state = decider.evolve(state, { type: recorded.type, data: recorded.data } as Event);
      revision = recorded.revision;
      eventIds.add(recorded.id.toLowerCase());
    }
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return { state, revision, eventIds };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
