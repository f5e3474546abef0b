import { encodeEventData } from '@khala/contracts';
import {
  AppendResult,
  Decider,
  deterministicEventId,
  DomainEvent,
  EventStore,
  EventStoreError,
  isWrongExpectedVersion,
  NewEvent,
} from '@khala/eventstore';
import { RuntimeError } from '../runtime.error';
import { commandId } from './command-key';
import { RuleViolation } from './domain/rule-violation';
import { CachedStreamState, streamStateCacheFor } from './stream-state-cache';

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
  const cache = streamStateCacheFor<State>(store, decider);
  // First, decide from this process's last known state of the stream when it has one (no read);
  // that only counts if it ends in an append at exactly that revision.
  const cached = cache.get(stream);
  const guess = cached ? await attemptOnce(cached, true) : 'stale';
  if (guess !== 'stale' && guess !== 'conflict') return guess;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(await loadStream(store, stream, decider), false);
    if (outcome === 'stale') throw new Error('unreachable: a fresh state is never stale');
    if (outcome !== 'conflict') return outcome;
    if (attempt >= maxAttempts) {
      throw new RuntimeError('concurrency_conflict', `${stream} kept changing under this command; retry it`, {
        attempts: attempt,
      });
    }
    await sleep(Math.random() * 4 * attempt);
  }

  /**
   * One decide/append round on a loaded or cached state. 'stale': a cached state led to anything
   * but an append (replay, nothing new, a rule violation, a lost race): decide again from a fresh
   * read, as if there had been no cache. 'conflict': the append from a fresh read lost a race.
   */
  async function attemptOnce(
    { state, revision, eventIds }: CachedStreamState<State>,
    fromCache: boolean,
  ): Promise<RuntimeCommandOutcome<State> | 'stale' | 'conflict'> {
    const staleOr = <T>(value: T): T | 'stale' => {
      if (!fromCache) return value;
      cache.forget(stream);
      return 'stale';
    };
    if (eventIds.has(replayMarker)) return staleOr({ state, revision, appended: 0, appendedEvents: [], replayed: true });
    let decided: Event[];
    try {
      decided = decider.decide(command, state);
    } catch (error) {
      if (fromCache) return staleOr('stale');
      if (error instanceof RuleViolation) throw new RuntimeError(error.rule, error.message, error.details);
      throw error;
    }
    const events: NewEvent[] = decided
      .map((event, index) => ({
        id: context.eventId?.(event, index) ?? deterministicEventId(context.commandKey, index),
        type: event.type,
        data: encodeEventData(event.type, event.data),
        metadata: { correlation_id: context.correlationId, causation_id: commandId(context.commandKey), actor: context.actor, schema_version: 1 },
      }))
      .filter((event) => !eventIds.has(event.id));
    if (events.length === 0) return staleOr({ state, revision, appended: 0, appendedEvents: [], replayed: decided.length > 0 });
    let result: AppendResult;
    try {
      result = await store.append(stream, events, { expectedRevision: revision < 0n ? 'no_stream' : revision });
    } catch (error) {
      cache.forget(stream);
      if (!isWrongExpectedVersion(error)) throw error;
      return fromCache ? 'stale' : 'conflict';
    }
    const next = decided.reduce((current, event) => decider.evolve(current, event), state);
    if (result.nextExpectedRevision === revision + BigInt(events.length)) {
      cache.put(stream, { state: next, revision: result.nextExpectedRevision, eventIds: new Set([...eventIds, ...events.map((event) => event.id)]) });
    } else {
      cache.forget(stream); // not exactly our events at exactly our revisions (a replayed batch): do not guess
    }
    return { state: next, revision: result.nextExpectedRevision, appended: events.length, appendedEvents: events, replayed: false };
  }
}

async function loadStream<Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
): Promise<CachedStreamState<State>> {
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
