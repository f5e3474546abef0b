import { deterministicEventId } from './event-id';
import { isWrongExpectedVersion } from './event-store.error';
import { EventStore, RecordedEvent } from './event-store.port';

/** A pure aggregate: decide what happens, and fold what happened (Emmett/Marten style). */
export interface Decider<Command, Event extends DomainEvent, State> {
  initialState(): State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface CommandContext {
  /** The command's idempotency key: event ids derive from it, so a retry appends nothing twice. */
  idempotencyKey: string;
  metadata: { correlation_id: string; causation_id: string; actor: string };
  schemaVersion?: number;
}

export interface CommandOutcome<State> {
  state: State;
  /** Events this execution appended (empty when the decision was a no-op or a replay). */
  appended: number;
  /** Revision of the stream's last event after the command; -1n when the stream is still empty. */
  revision: bigint;
}

export interface ExecuteOptions {
  /** Bounded retries when another writer appended between our read and our append. */
  maxAttempts?: number;
}

/**
 * load → fold → decide → append(exact expected revision). A conflict means someone else wrote
 * first: reload and decide again, a bounded number of times, then let the conflict surface (409).
 */
export async function executeCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  context: CommandContext,
  options: ExecuteOptions = {},
): Promise<CommandOutcome<State>> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await loadState(store, stream, decider);
    const events = decider.decide(command, state);
    if (events.length === 0) return { state, appended: 0, revision };
    try {
      const result = await store.append(
        stream,
        events.map((event, index) => ({
          id: deterministicEventId(context.idempotencyKey, index),
          type: event.type,
          data: event.data,
          metadata: { ...context.metadata, schema_version: context.schemaVersion ?? 1 },
        })),
        { expectedRevision: revision < 0n ? 'no_stream' : revision },
      );
      const next = events.reduce((current, event) => decider.evolve(current, event), state);
      return { state: next, appended: events.length, revision: result.nextExpectedRevision };
    } catch (error) {
      if (!isWrongExpectedVersion(error) || attempt >= maxAttempts) throw error;
    }
  }
}

export async function loadState<Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
): Promise<{ state: State; revision: bigint }> {
  let state = decider.initialState();
  let revision = -1n;
  try {
    for await (const recorded of store.readStream(stream)) {
      state = decider.evolve(state, toDomainEvent<Event>(recorded));
      revision = recorded.revision;
    }
  } catch (error) {
    if ((error as { code?: string }).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return { state, revision };
}

function toDomainEvent<Event extends DomainEvent>(recorded: RecordedEvent): Event {
  return { type: recorded.type, data: recorded.data } as Event;
}
