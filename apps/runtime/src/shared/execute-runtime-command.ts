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
import { QueuedJob, QueueFairness, StreamCommandQueue } from './stream-command-queue';
import { CachedStreamState, StreamStateCache, streamStateCacheFor } from './stream-state-cache';

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

/**
 * Attempts before a batch that keeps losing the optimistic race to another process is reported
 * as 409 concurrency_conflict. Within one process commands never race (they queue per stream);
 * an attempt after a lost race reads only the events appended since, so attempts are cheap, and
 * on Postgres a losing append has waited for the winner's commit, which paces them.
 */
export const MAX_COMMAND_ATTEMPTS = 100;
/**
 * Backoff between attempts: full jitter over an exponential ceiling (ms). Kept short: the loser
 * wins when the other process leaves a gap between its appends (see STREAM_FAIRNESS), and it has
 * to be quick to use it; the jitter only keeps several losers from retrying in lockstep.
 */
const BACKOFF_BASE_MS = 0.5;
const BACKOFF_CAP_MS = 20;
/** A stream this process keeps busy leaves a gap now and then for another process's retry. */
const STREAM_FAIRNESS: QueueFairness = { pauseAfterBatches: 8, pauseFactor: 2, maxPauseMs: 50 };
/** A batch takes at most this many queued commands, and stops taking more once it holds this many events. */
const MAX_BATCH_COMMANDS = 64;
const MAX_BATCH_EVENTS = 1000;

interface CommandJob {
  decider: Decider<unknown, DomainEvent, unknown>;
  command: unknown;
  context: RuntimeCommandContext<DomainEvent>;
  maxAttempts: number;
}
type Job = QueuedJob<CommandJob, RuntimeCommandOutcome<unknown>>;

/**
 * load → fold → decide → append with the exact expected revision, one stream at a time per
 * process. Commands on one stream queue in this process (stream-command-queue.ts) and those that
 * queued while an append was in flight go together: each is decided in arrival order on the state
 * the ones before it left, and their events are appended at once. Each keeps its own result,
 * event ids and rule violations (a refused command does not affect the others in its batch).
 *
 * Another process may still append to the stream: the append is at the exact revision decided
 * on, and a lost race reads the events appended since, decides the batch again and retries
 * (bounded, with jittered exponential backoff), then 409.
 *
 * Like @khala/eventstore's executeCommand, plus what runtime commands need: per-event id
 * overrides (frames), recognising a re-executed command by its first event id, event data
 * encoded through the contracts registry (so stored data is the proto-JSON of the message), and
 * rule violations and conflicts translated to RuntimeError.
 */
export function executeRuntimeCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  context: RuntimeCommandContext<Event>,
  maxAttempts = MAX_COMMAND_ATTEMPTS,
): Promise<RuntimeCommandOutcome<State>> {
  const job: CommandJob = {
    decider: decider as unknown as CommandJob['decider'],
    command,
    context: context as RuntimeCommandContext<DomainEvent>,
    maxAttempts,
  };
  return queueFor(store).submit(stream, job) as Promise<RuntimeCommandOutcome<State>>;
}

const queues = new WeakMap<EventStore, StreamCommandQueue<CommandJob, RuntimeCommandOutcome<unknown>>>();

/** One queue per event store: two stores in one process (tests standing for two instances) never wait on each other. */
function queueFor(store: EventStore): StreamCommandQueue<CommandJob, RuntimeCommandOutcome<unknown>> {
  let queue = queues.get(store);
  if (!queue)
    queues.set(
      store,
      (queue = new StreamCommandQueue(
        (stream, batch) => runBatch(store, stream, batch),
        MAX_BATCH_COMMANDS,
        STREAM_FAIRNESS,
      )),
    );
  return queue;
}

/** What deciding one command in a batch came to. */
type Decision =
  | { job: Job; failed: unknown }
  | {
      job: Job;
      /** The state after this command's events (set once they are folded). */
      state: unknown;
      events: NewEvent[];
      replayed: boolean;
      /** Events of the commands before it in the batch. */
      eventsBefore: number;
      /** A re-executed command: the revision its first execution ended at (what that one answered). */
      replayedAt?: bigint;
    };

interface Plan {
  decisions: Decision[];
  events: NewEvent[];
  /** Folds what is left into the state and returns it: call only once the append has succeeded. */
  finalState(): unknown;
}

/**
 * Runs the queued commands of one stream that share the first one's decider; returns the rest
 * (another decider on the same stream name, or what did not fit) for the next batch.
 */
async function runBatch(store: EventStore, stream: string, queued: Job[]): Promise<Job[]> {
  const decider = queued[0].item.decider;
  const sameDecider = queued.findIndex((job) => job.item.decider !== decider);
  const jobs = sameDecider < 0 ? queued : queued.slice(0, sameDecider);
  const others = sameDecider < 0 ? [] : queued.slice(sameDecider);
  const cache = streamStateCacheFor<unknown>(store, decider);
  const cached = cache.get(stream);
  // A cached state is this process's last sight of the stream; it counts as the head only once
  // an append at exactly its revision succeeds, or a read finds nothing after it.
  let base = cached ?? (await loadStream(store, stream, decider));
  let verified = !cached;
  const maxAttempts = jobs[0].item.maxAttempts;
  for (let attempt = 1; ; attempt++) {
    const plan = planBatch(decider, base, jobs);
    const taken = plan.decisions.map((decision) => decision.job);
    const rest = [...jobs.slice(taken.length), ...others];
    if (plan.events.length === 0) {
      if (!verified) {
        const caughtUp = await catchUp(store, stream, decider, cache, base);
        verified = true;
        if (caughtUp !== base) {
          base = caughtUp;
          continue;
        }
      }
      // Not kept: the next command then reads the stream afresh. A state kept after, say, a
      // repeated frame could be behind another instance's append of the very frame the next
      // command sends, and the store acknowledges such an append as a replay.
      cache.forget(stream);
      settle(plan.decisions, base.revision);
      return rest;
    }
    let result: AppendResult;
    try {
      result = await store.append(stream, plan.events, {
        expectedRevision: base.revision < 0n ? 'no_stream' : base.revision,
      });
    } catch (error) {
      cache.forget(stream);
      if (!isWrongExpectedVersion(error)) {
        for (const job of taken) job.reject(error);
        return rest;
      }
      if (attempt >= maxAttempts) {
        const conflict = new RuntimeError(
          'concurrency_conflict',
          `${stream} kept changing under this command; retry it`,
          { attempts: attempt },
        );
        for (const job of taken) job.reject(conflict);
        return rest;
      }
      base = await catchUp(store, stream, decider, cache, base);
      verified = true;
      await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)));
      continue;
    }
    const state = plan.finalState();
    const total = BigInt(plan.events.length);
    if (result.nextExpectedRevision === base.revision + total) {
      cache.forget(stream);
      const eventIds = base.eventIds as Map<string, bigint>; // no longer in the cache: extended in place
      plan.events.forEach((event, index) => eventIds.set(event.id, base.revision + 1n + BigInt(index)));
      cache.put(stream, { state, revision: result.nextExpectedRevision, eventIds });
    } else {
      cache.forget(stream); // not exactly our events at exactly our revisions (a replayed batch): do not guess
    }
    settle(plan.decisions, result.nextExpectedRevision - total);
    return rest;
  }
}

/**
 * Decides the jobs in order, each on the state the ones before it left. The base state is never
 * changed before the append succeeds (a lost race retries from it): when a command follows one
 * that decided events, those are folded into a copy first.
 */
function planBatch(decider: CommandJob['decider'], base: CachedStreamState<unknown>, jobs: Job[]): Plan {
  let state = base.state;
  let copied = false;
  let unfolded: DomainEvent[] = [];
  const decisions: Decision[] = [];
  const events: NewEvent[] = [];
  const batchIds = new Set<string>();
  const seen = (id: string) => base.eventIds.has(id) || batchIds.has(id);
  const fold = (inPlace: boolean) => {
    if (unfolded.length === 0) return;
    if (!inPlace && !copied) {
      // Deciders may share structure between successive states (a run's frame ids): a copy.
      state = structuredClone(state);
      copied = true;
    }
    for (const event of unfolded) state = decider.evolve(state, event);
    unfolded = [];
    // A failed command never leaves events to fold, so the last decision is the one they came from.
    const last = decisions[decisions.length - 1];
    if (last && !('failed' in last)) last.state = state;
  };
  for (const job of jobs) {
    if (decisions.length > 0 && events.length >= MAX_BATCH_EVENTS) break;
    fold(false);
    const { command, context } = job.item;
    if (seen(deterministicEventId(context.commandKey, 0))) {
      const replayedAt = lastRevisionOf(context.commandKey, base.eventIds);
      decisions.push({ job, state, events: [], replayed: true, eventsBefore: events.length, replayedAt });
      continue;
    }
    let decided: DomainEvent[];
    try {
      decided = decider.decide(command, state);
    } catch (error) {
      decisions.push({ job, failed: error });
      continue;
    }
    const fresh = decided
      .map((event, index) => ({
        id: context.eventId?.(event, index) ?? deterministicEventId(context.commandKey, index),
        type: event.type,
        data: encodeEventData(event.type, event.data),
        metadata: {
          correlation_id: context.correlationId,
          causation_id: commandId(context.commandKey),
          actor: context.actor,
          schema_version: 1,
        },
      }))
      .filter((event) => !seen(event.id));
    decisions.push({
      job,
      state,
      events: fresh,
      replayed: fresh.length === 0 && decided.length > 0,
      eventsBefore: events.length,
    });
    for (const event of fresh) batchIds.add(event.id);
    events.push(...fresh);
    if (fresh.length > 0) unfolded = decided;
  }
  return {
    decisions,
    events,
    finalState() {
      fold(true);
      return state;
    },
  };
}

/** Answers every decision of a batch; `before` is the stream's revision before the batch's events. */
function settle(decisions: Decision[], before: bigint): void {
  for (const decision of decisions) {
    if ('failed' in decision) {
      const error = decision.failed;
      decision.job.reject(
        error instanceof RuleViolation ? new RuntimeError(error.rule, error.message, error.details) : error,
      );
      continue;
    }
    decision.job.resolve({
      state: decision.state,
      // Its own last event's revision (a re-executed command: where its first execution ended, so
      // a retry answers what that one did), or the revision it decided on when it appended nothing.
      revision: decision.replayedAt ?? before + BigInt(decision.eventsBefore + decision.events.length),
      appended: decision.events.length,
      appendedEvents: decision.events,
      replayed: decision.replayed,
    });
  }
}

/**
 * Revision of the last event a command appended, found by its deterministic ids (index 0, 1, …);
 * undefined when its first event is not in the stream (or in this batch only).
 */
function lastRevisionOf(commandKey: string, eventIds: ReadonlyMap<string, bigint>): bigint | undefined {
  let last: bigint | undefined;
  for (let index = 0; ; index++) {
    const revision = eventIds.get(deterministicEventId(commandKey, index));
    if (revision === undefined) return last;
    last = revision;
  }
}

/**
 * The stream as it is now, from `base` forward: only the events after its revision are read (a
 * lost race costs the events the winner appended, not the whole stream). Returns `base` itself
 * when nothing was appended since. Reads the whole stream if what follows does not continue it.
 */
async function catchUp(
  store: EventStore,
  stream: string,
  decider: CommandJob['decider'],
  cache: StreamStateCache<unknown>,
  base: CachedStreamState<unknown>,
): Promise<CachedStreamState<unknown>> {
  if (base.revision < 0n)
    return loadStream(store, stream, decider).then((loaded) => (loaded.revision < 0n ? base : loaded));
  const recorded = [];
  try {
    for await (const event of store.readStream(stream, { fromRevision: base.revision + 1n }))
      recorded.push(event);
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
    return loadStream(store, stream, decider);
  }
  if (recorded.length === 0) return base;
  if (recorded.some((event, index) => event.revision !== base.revision + 1n + BigInt(index)))
    return loadStream(store, stream, decider);
  // The base is not in the cache from here on (it is extended in place; put back after an append).
  cache.forget(stream);
  let state = base.state;
  const eventIds = base.eventIds as Map<string, bigint>;
  for (const event of recorded) {
    state = decider.evolve(state, { type: event.type, data: event.data });
    eventIds.set(event.id.toLowerCase(), event.revision);
  }
  return { state, revision: recorded[recorded.length - 1].revision, eventIds };
}

async function loadStream(
  store: EventStore,
  stream: string,
  decider: Pick<CommandJob['decider'], 'initialState' | 'evolve'>,
): Promise<CachedStreamState<unknown>> {
  let state = decider.initialState();
  let revision = -1n;
  const eventIds = new Map<string, bigint>();
  try {
    for await (const recorded of store.readStream(stream)) {
      state = decider.evolve(state, { type: recorded.type, data: recorded.data });
      revision = recorded.revision;
      eventIds.set(recorded.id.toLowerCase(), recorded.revision);
    }
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return { state, revision, eventIds };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
