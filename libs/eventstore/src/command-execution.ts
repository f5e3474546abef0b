import { randomUUID } from 'node:crypto';
import { context as traceContext, Context } from '@opentelemetry/api';
import { tracingEnabled } from '@khala/platform/tracing/tracing';
import { endAppendSpans, startAppendSpans } from './append-tracing';
import { Decider, DomainEvent, RuleViolation } from './decider';
import { deterministicEventId } from './event-id';
import { EventStoreError, isWrongExpectedVersion } from './event-store.error';
import { AppendResult, appendSizeOf, EventStore, NewEvent } from './event-store.port';
import { QueuedJob, QueueFairness, StreamCommandQueue } from './stream-command-queue';
import { CachedStreamState, StreamStateCache } from './stream-state-cache';

export interface CommandContext<Event extends DomainEvent = DomainEvent> {
  /**
   * Scopes the ids of the events this command appends (deterministicEventId(commandKey, index)):
   * a re-executed command (a retry after a lost response, or after a crash before its
   * idempotency record was completed) finds its own events already in the stream and appends
   * nothing. Absent: a fresh random key, for a command that is never executed twice.
   */
  commandKey?: string;
  correlationId: string;
  actor: string;
  /** Overrides the id of one event (a run's frames: the id derives from run_id + frame_id instead). */
  eventId?: (event: Event, index: number) => string | undefined;
  /**
   * The command creates its stream under a fresh id: it is decided on the initial state without
   * reading first (one round trip less), and the append's `no_stream` expectation is the check. A
   * stream that does exist after all (a reused id, a retry) fails that append and is then read and
   * decided again, as any lost race is.
   */
  newStream?: boolean;
}

export interface CommandOutcome<State> {
  stream: string;
  state: State;
  /**
   * Revision of the command's own last event: what a reply's read-your-writes `revision` is.
   * A re-executed command answers where its first execution ended; a command that appended
   * nothing, the revision it decided on (-1n while the stream is empty).
   */
  revision: bigint;
  appended: number;
  /** The events this execution appended, in order. */
  appendedEvents: NewEvent[];
  /** True when the stream already held this command's events (nothing was appended now). */
  replayed: boolean;
}

export interface CommandExecutorOptions {
  /** Attempts before a command that keeps losing the optimistic race fails with `conflict`. */
  maxAttempts: number;
  /** Full jitter over an exponential ceiling between attempts (ms); retries at once when absent. */
  backoff?: { baseMs: number; capMs: number };
  /**
   * Queue a stream's commands in this process, one batch at a time: those that arrive while an
   * append is in flight are decided together and appended at once. Absent: each command loads,
   * decides and appends on its own as it arrives.
   */
  queue?: { maxBatchCommands: number; maxBatchEvents: number; fairness?: QueueFairness };
  /** Keep each stream's last folded state (stream-state-cache.ts), so a command decides without reading first. */
  stateCache?: boolean;
  /** Encodes decided event data before it is stored (the contracts registry); stored as decided when absent. */
  encodeData?: (type: string, data: Record<string, unknown>) => Record<string, unknown>;
  /** The command's id, stored as its events' causation_id, from its key; the correlation id when absent. */
  causationId?: (commandKey: string) => string;
  /** The app's error for a decider's refusal. */
  refusal: (violation: RuleViolation) => Error;
  /** The app's error once `maxAttempts` appends lost the race. */
  conflict: (stream: string, attempts: number) => Error;
}

interface CommandJob {
  decider: Decider<unknown, DomainEvent, unknown>;
  command: unknown;
  context: CommandContext<DomainEvent> & { commandKey: string };
  /** The trace context the command was sent in (its handler's span), when tracing is on. */
  trace?: Context;
}
type Job = QueuedJob<CommandJob, CommandOutcome<unknown>>;

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

const NO_CACHE: Pick<StreamStateCache<unknown>, 'get' | 'put' | 'forget'> = {
  get: () => undefined,
  put: () => undefined,
  forget: () => undefined,
};

/**
 * load → fold → decide → append with the exact expected revision; the one way every app runs a
 * command. The options say what an app adds: a per-stream queue with batched appends, a state
 * cache, backoff, event data encoding, and its own errors for refusals and lost races.
 *
 * With the queue, commands on one stream run one batch at a time per process; each command of a
 * batch is decided in arrival order on the state the ones before it left, and their events are
 * appended at once. Each keeps its own result, event ids and rule violations (a refused command
 * does not affect the others in its batch). Another process may still append to the stream: the
 * append is at the exact revision decided on, and a lost race reads the events appended since,
 * decides again and retries (bounded), then `conflict`.
 *
 * A command recognises its own earlier execution by its first event id and appends nothing;
 * events whose id the stream already holds (an overridden id, such as a frame's) are left out.
 */
export class CommandExecutor {
  private readonly queues = new WeakMap<EventStore, StreamCommandQueue<CommandJob, CommandOutcome<unknown>>>();
  private readonly caches = new WeakMap<EventStore, WeakMap<object, StreamStateCache<unknown>>>();

  constructor(private readonly options: CommandExecutorOptions) {}

  execute<Command, Event extends DomainEvent, State>(
    store: EventStore,
    stream: string,
    decider: Decider<Command, Event, State>,
    command: Command,
    context: CommandContext<Event>,
  ): Promise<CommandOutcome<State>> {
    const item: CommandJob = {
      decider: decider as unknown as CommandJob['decider'],
      command,
      context: { ...(context as CommandContext<DomainEvent>), commandKey: context.commandKey ?? randomUUID() },
      trace: tracingEnabled() ? traceContext.active() : undefined,
    };
    if (this.options.queue) return this.queueFor(store).submit(stream, item) as Promise<CommandOutcome<State>>;
    return new Promise<CommandOutcome<unknown>>((resolve, reject) => {
      this.runBatch(store, stream, [{ item, resolve, reject }]).catch(reject);
    }) as Promise<CommandOutcome<State>>;
  }

  /** One queue per event store: two stores in one process (tests standing for two instances) never wait on each other. */
  private queueFor(store: EventStore): StreamCommandQueue<CommandJob, CommandOutcome<unknown>> {
    let queue = this.queues.get(store);
    if (!queue) {
      const { maxBatchCommands, fairness } = this.options.queue!;
      queue = new StreamCommandQueue((stream, batch) => this.runBatch(store, stream, batch), maxBatchCommands, fairness);
      this.queues.set(store, queue);
    }
    return queue;
  }

  /** The cache for one event store and one decider. */
  private cacheFor(store: EventStore, decider: object): Pick<StreamStateCache<unknown>, 'get' | 'put' | 'forget'> {
    if (!this.options.stateCache) return NO_CACHE;
    let byDecider = this.caches.get(store);
    if (!byDecider) this.caches.set(store, (byDecider = new WeakMap()));
    let cache = byDecider.get(decider);
    if (!cache) byDecider.set(decider, (cache = new StreamStateCache<unknown>()));
    return cache;
  }

  /**
   * Runs the queued commands of one stream that share the first one's decider; returns the rest
   * (another decider on the same stream name, or what did not fit) for the next batch.
   */
  private async runBatch(store: EventStore, stream: string, queued: Job[]): Promise<Job[]> {
    const decider = queued[0].item.decider;
    const sameDecider = queued.findIndex((job) => job.item.decider !== decider);
    const jobs = sameDecider < 0 ? queued : queued.slice(0, sameDecider);
    const others = sameDecider < 0 ? [] : queued.slice(sameDecider);
    const cache = this.cacheFor(store, decider);
    const assumed = cache.get(stream) ?? (jobs[0].item.context.newStream ? emptyStream(decider) : undefined);
    // A cached (or assumed new) state is this process's last sight of the stream; it counts as the
    // head only once an append at exactly its revision succeeds, or a read finds nothing after it.
    let base = assumed ?? (await loadStream(store, stream, decider));
    let verified = !assumed;
    const { maxAttempts, backoff } = this.options;
    for (let attempt = 1; ; attempt++) {
      const plan = this.planBatch(decider, base, jobs, store.maxAppendSize);
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
        this.settle(stream, plan.decisions, base.revision);
        return rest;
      }
      let result: AppendResult;
      const expectedRevision = base.revision < 0n ? 'no_stream' : base.revision;
      const spans = tracingEnabled()
        ? startAppendSpans(
            stream,
            String(expectedRevision),
            plan.decisions.map((decision) => ({ parent: decision.job.item.trace, events: 'failed' in decision ? [] : decision.events })),
          )
        : undefined;
      try {
        result = await store.append(stream, plan.events, { expectedRevision });
        if (spans) endAppendSpans(spans, result);
      } catch (error) {
        if (spans) endAppendSpans(spans, { error });
        cache.forget(stream);
        if (!isWrongExpectedVersion(error)) {
          for (const job of taken) job.reject(error);
          return rest;
        }
        if (attempt >= maxAttempts) {
          const conflict = this.options.conflict(stream, attempt);
          for (const job of taken) job.reject(conflict);
          return rest;
        }
        base = await catchUp(store, stream, decider, cache, base);
        verified = true;
        if (backoff) await sleep(Math.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** (attempt - 1)));
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
      this.settle(stream, plan.decisions, result.nextExpectedRevision - total);
      return rest;
    }
  }

  /**
   * Decides the jobs in order, each on the state the ones before it left. The base state is never
   * changed before the append succeeds (a lost race retries from it): when a command follows one
   * that decided events, those are folded into a copy first.
   *
   * The batch ends at `maxBatchEvents`, or before a command whose events would take the append
   * over `maxAppendBytes` (EventStoreDB refuses an append over its limit whole, which would fail
   * every command in it though each fits alone). The first command is always taken: alone over
   * the limit, it is refused alone.
   */
  private planBatch(decider: CommandJob['decider'], base: CachedStreamState<unknown>, jobs: Job[], maxAppendBytes = Infinity): Plan {
    const maxBatchEvents = this.options.queue?.maxBatchEvents ?? Infinity;
    let batchBytes = 0;
    const { encodeData, causationId } = this.options;
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
      if (decisions.length > 0 && events.length >= maxBatchEvents) break;
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
          data: encodeData ? encodeData(event.type, event.data) : event.data,
          metadata: {
            correlation_id: context.correlationId,
            causation_id: causationId ? causationId(context.commandKey) : context.correlationId,
            actor: context.actor,
            schema_version: 1,
          },
        }))
        .filter((event) => !seen(event.id));
      if (maxAppendBytes !== Infinity && fresh.length > 0) {
        const bytes = appendSizeOf(fresh);
        if (decisions.length > 0 && batchBytes + bytes > maxAppendBytes) break;
        batchBytes += bytes;
      }
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
  private settle(stream: string, decisions: Decision[], before: bigint): void {
    for (const decision of decisions) {
      if ('failed' in decision) {
        const error = decision.failed;
        decision.job.reject(error instanceof RuleViolation ? this.options.refusal(error) : error);
        continue;
      }
      decision.job.resolve({
        stream,
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
  cache: Pick<StreamStateCache<unknown>, 'forget'>,
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

function emptyStream<State>(decider: Pick<Decider<unknown, DomainEvent, State>, 'initialState'>): CachedStreamState<State> {
  return { state: decider.initialState(), revision: -1n, eventIds: new Map() };
}

/** A stream folded from its first event, with each event id's revision; an absent stream is the initial state at -1n. */
export async function loadStream<Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
): Promise<CachedStreamState<State>> {
  let state = decider.initialState();
  let revision = -1n;
  const eventIds = new Map<string, bigint>();
  try {
    for await (const recorded of store.readStream(stream)) {
      state = decider.evolve(state, { type: recorded.type, data: recorded.data } as Event);
      revision = recorded.revision;
      eventIds.set(recorded.id.toLowerCase(), recorded.revision);
    }
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return { state, revision, eventIds };
}

/** A stream's current state and revision, for reads that decide nothing (log-in checks a password). */
export async function loadState<Event extends DomainEvent, State>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
): Promise<{ state: State; revision: bigint }> {
  const { state, revision } = await loadStream(store, stream, decider);
  return { state, revision };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
