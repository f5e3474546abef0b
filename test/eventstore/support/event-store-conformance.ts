import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { formatTraceparent } from '@khala/platform/tracing/traceparent';
import { flushTraces, inSpan, startTracing, stopTracing } from '@khala/platform/tracing/tracing';
import {
  AppendOptions,
  AppendResult,
  CommandExecutor,
  comparePositions,
  Decider,
  deterministicEventId,
  EventFilter,
  EventStore,
  EventStoreError,
  NewEvent,
  Position,
  RecordedEvent,
  SubscribeOptions,
} from '@khala/eventstore';
import { describeOrSkip, itOrSkip } from '../../support/skips';
import { SubscriptionCollector } from './subscription-collector';

/** An append whose transaction stays open until the test commits it (stores with transactions). */
export interface HeldAppend {
  result: AppendResult;
  commit(): Promise<void>;
}

export interface ConformanceTarget {
  /** When set, the whole suite is skipped and this is printed. */
  skipReason?: string;
  open(): Promise<EventStore>;
  close(): Promise<void>;
  /** Starts an append in a transaction left open; absent where writes cannot commit late. */
  holdAppendOpen?: (stream: string, events: NewEvent[], options: AppendOptions) => Promise<HeldAppend>;
  /** Printed when the late-commit race cannot run against this target. */
  lateCommitSkipReason?: string;
  /** Printed with the concurrency tests when appends on this target do not truly run in parallel. */
  serialisedWritersNote?: string;
}

/** A category no other test (or earlier run) uses, so tests never assume an empty store. */
export function freshCategory(): string {
  return `c${randomBytes(5).toString('hex')}`;
}

export function probeEvents(key: string, count: number, type = 'ConformanceProbed'): NewEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    id: deterministicEventId(key, index),
    type,
    data: { key, index, note: 'proto-json payload' },
    metadata: { correlation_id: `corr-${key}`, causation_id: `cause-${key}-${index}`, actor: 'user:conformance', schema_version: 1 },
  }));
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function expectConflict(promise: Promise<unknown>, actual: bigint | 'no_stream'): Promise<EventStoreError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EventStoreError);
  expect((error as EventStoreError).code).toBe('WRONG_EXPECTED_VERSION');
  expect((error as EventStoreError).details.actual).toBe(actual);
  return error as EventStoreError;
}

function note(message: string): void {
  console.log(message);
}

/**
 * The one behaviour every EventStore adapter must have, run against each target: Postgres,
 * the EventStoreDB emulator through the real client, and a real server when one is configured.
 */
export function describeEventStoreConformance(name: string, target: ConformanceTarget): void {
  describeOrSkip(target.skipReason)(`event store conformance: ${name}`, () => {
    let store: EventStore;
    const collectors: SubscriptionCollector[] = [];

    beforeAll(async () => {
      store = await target.open();
    });
    afterEach(async () => {
      await Promise.all(collectors.splice(0).map((collector) => collector.close()));
    });
    afterAll(async () => {
      await target.close();
    });

    function subscribe(options: SubscribeOptions): SubscriptionCollector {
      const collector = new SubscriptionCollector(store.subscribeToAll(options));
      collectors.push(collector);
      return collector;
    }

    /**
     * $all and the head are visible up to the commit horizon: an append committed by this test is
     * readable there once every append that started before it, anywhere in the database, has
     * finished too (other test files append concurrently). Waits for that, boundedly.
     */
    async function untilVisible(position: Position, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const head = await store.headPosition();
        if (head && comparePositions(head, position) >= 0) return;
        if (Date.now() > deadline) throw new Error(`position ${position.commit}/${position.prepare} not visible within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    async function headOrStart(): Promise<Position | 'start'> {
      return (await store.headPosition()) ?? 'start';
    }

    describe('append and stream reads', () => {
      it('appends with 0-based revisions and reads the stream in both directions', async () => {
        const stream = `${freshCategory()}-1`;
        const first = await store.append(stream, probeEvents(`${stream}/a`, 3), { expectedRevision: 'no_stream' });
        expect(first.nextExpectedRevision).toBe(2n);
        const second = await store.append(stream, probeEvents(`${stream}/b`, 2, 'ConformanceNudged'), { expectedRevision: 2n });
        expect(second.nextExpectedRevision).toBe(4n);
        expect(comparePositions(second.position, first.position)).toBeGreaterThan(0);

        const forwards = await collect(store.readStream(stream));
        expect(forwards.map((event) => event.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
        const expected = [...probeEvents(`${stream}/a`, 3), ...probeEvents(`${stream}/b`, 2, 'ConformanceNudged')];
        forwards.forEach((event, index) => {
          expect(event).toMatchObject({
            id: expected[index].id,
            stream,
            type: expected[index].type,
            data: expected[index].data,
            metadata: expected[index].metadata,
          });
          expect(event.created).toBeInstanceOf(Date);
        });
        expect(forwards[4].position).toEqual(second.position);

        const backwards = await collect(store.readStream(stream, { direction: 'backwards' }));
        expect(backwards.map((event) => event.revision)).toEqual([4n, 3n, 2n, 1n, 0n]);
        const window = await collect(store.readStream(stream, { fromRevision: 2n, maxCount: 2 }));
        expect(window.map((event) => event.revision)).toEqual([2n, 3n]);
        const before = await collect(store.readStream(stream, { fromRevision: 2n, direction: 'backwards' }));
        expect(before.map((event) => event.revision)).toEqual([2n, 1n, 0n]);
        const last = await collect(store.readStream(stream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 }));
        expect(last.map((event) => event.revision)).toEqual([4n]);
        expect(await collect(store.readStream(stream, { fromRevision: 'end' }))).toEqual([]);
        expect(await collect(store.readStream(stream, { fromRevision: 9n }))).toEqual([]);
      });

      it('reports a stream that has no events as STREAM_NOT_FOUND', async () => {
        const stream = `${freshCategory()}-missing`;
        await expect(collect(store.readStream(stream))).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
        await expect(collect(store.readStream(stream, { direction: 'backwards' }))).rejects.toMatchObject({
          code: 'STREAM_NOT_FOUND',
        });
      });

      it('honours no_stream, stream_exists, any and exact revisions; a conflict carries expected and actual', async () => {
        const stream = `${freshCategory()}-1`;
        await expectConflict(store.append(stream, probeEvents(`${stream}/x`, 1), { expectedRevision: 'stream_exists' }), 'no_stream');
        await expectConflict(store.append(stream, probeEvents(`${stream}/x`, 1), { expectedRevision: 0n }), 'no_stream');
        await store.append(stream, probeEvents(`${stream}/a`, 1), { expectedRevision: 'no_stream' });
        const conflict = await expectConflict(
          store.append(stream, probeEvents(`${stream}/b`, 1), { expectedRevision: 'no_stream' }),
          0n,
        );
        expect(conflict.details.expected).toBe('no_stream');
        await store.append(stream, probeEvents(`${stream}/c`, 1), { expectedRevision: 'stream_exists' });
        await store.append(stream, probeEvents(`${stream}/d`, 1), { expectedRevision: 'any' });
        const stale = await expectConflict(store.append(stream, probeEvents(`${stream}/e`, 1), { expectedRevision: 0n }), 2n);
        expect(stale.details.expected).toBe('0');
        expect((await store.append(stream, probeEvents(`${stream}/f`, 1), { expectedRevision: 2n })).nextExpectedRevision).toBe(3n);
        expect((await collect(store.readStream(stream))).length).toBe(4);
      });
    });

    describe('idempotent append', () => {
      it('acknowledges a retry with the same ids and the same expected revision once, writing nothing twice', async () => {
        const stream = `${freshCategory()}-1`;
        const created = probeEvents(`${stream}/create`, 2);
        const original = await store.append(stream, created, { expectedRevision: 'no_stream' });
        await expect(store.append(stream, created, { expectedRevision: 'no_stream' })).resolves.toEqual(original);

        const followUp = probeEvents(`${stream}/follow-up`, 3);
        const appended = await store.append(stream, followUp, { expectedRevision: 1n });
        await store.append(stream, probeEvents(`${stream}/later`, 1), { expectedRevision: 4n });
        // The retry arrives after someone else wrote: still recognised by its ids at their revisions.
        await expect(store.append(stream, followUp, { expectedRevision: 1n })).resolves.toEqual(appended);

        const events = await collect(store.readStream(stream));
        expect(events.map((event) => event.id)).toEqual([
          ...created.map((event) => event.id),
          ...followUp.map((event) => event.id),
          probeEvents(`${stream}/later`, 1)[0].id,
        ]);
      });

      it('treats the same ids at a different expected revision, or a partly new batch, as a conflict', async () => {
        const stream = `${freshCategory()}-1`;
        const batch = probeEvents(`${stream}/a`, 2);
        await store.append(stream, batch, { expectedRevision: 'no_stream' });
        await expectConflict(store.append(stream, batch, { expectedRevision: 0n }), 1n);
        const partlyNew = [batch[0], ...probeEvents(`${stream}/b`, 1)];
        await expectConflict(store.append(stream, partlyNew, { expectedRevision: 'no_stream' }), 1n);
        expect((await collect(store.readStream(stream))).length).toBe(2);
      });

      it('after a simulated timeout, the retry of the in-flight append is acknowledged with the same result', async () => {
        const stream = `${freshCategory()}-1`;
        await store.append(stream, probeEvents(`${stream}/seed`, 1), { expectedRevision: 'no_stream' });
        const events = probeEvents(`${stream}/command-7`, 2);
        // The caller gives up waiting (its deadline fires) while the first attempt is still in flight.
        const inFlight = store.append(stream, events, { expectedRevision: 0n });
        const timedOut = await Promise.race([
          inFlight.then(() => 'acknowledged' as const),
          Promise.resolve('timed out' as const),
        ]);
        expect(timedOut).toBe('timed out');
        const retried = await store.append(stream, events, { expectedRevision: 0n });
        const original = await inFlight;
        expect(retried).toEqual(original);
        expect(original.nextExpectedRevision).toBe(2n);
        expect((await collect(store.readStream(stream))).map((event) => event.id)).toEqual([
          probeEvents(`${stream}/seed`, 1)[0].id,
          ...events.map((event) => event.id),
        ]);
      });
    });

    describe('$all reads', () => {
      async function appendSpread(category: string) {
        const results: Array<{ stream: string; events: NewEvent[]; result: AppendResult }> = [];
        for (const [stream, type] of [
          [`${category}-a1`, 'ConformanceProbed'],
          [`${category}-b1`, 'ConformanceNudged'],
          [`${category}-a2`, 'ConformanceProbed'],
          [`${category}-a1`, 'ConformanceNudged'],
        ] as const) {
          const events = probeEvents(`${stream}/${results.length}`, 2, type);
          results.push({ stream, events, result: await store.append(stream, events, { expectedRevision: 'any' }) });
        }
        await untilVisible(results[results.length - 1].result.position);
        return results.flatMap(({ events }) => events.map((event) => event.id));
      }

      it('reads $all forwards and backwards in one order, with stream-prefix and event-type filters', async () => {
        const category = freshCategory();
        const from = await headOrStart();
        const ids = await appendSpread(category);
        const byCategory: EventFilter = { streamPrefixes: [`${category}-`] };

        const forwards = await collect(store.readAll({ fromPosition: from, filter: byCategory }));
        expect(forwards.map((event) => event.id)).toEqual(ids);
        assertStrictlyIncreasing(forwards);
        const backwards = await collect(store.readAll({ direction: 'backwards', filter: byCategory, maxCount: ids.length }));
        expect(backwards.map((event) => event.id)).toEqual([...ids].reverse());

        const streamA = await collect(store.readAll({ fromPosition: from, filter: { streamPrefixes: [`${category}-a`] } }));
        expect(streamA.map((event) => event.stream)).toEqual([`${category}-a1`, `${category}-a1`, `${category}-a2`, `${category}-a2`, `${category}-a1`, `${category}-a1`]);

        const nudged = await collect(
          store.readAll({ fromPosition: from, filter: { streamPrefixes: [`${category}-`], eventTypes: ['ConformanceNudged'] } }),
        );
        expect(nudged.map((event) => event.stream)).toEqual([`${category}-b1`, `${category}-b1`, `${category}-a1`, `${category}-a1`]);
        expect(nudged.every((event) => event.type === 'ConformanceNudged')).toBe(true);
      });

      it('treats fromPosition as exclusive in both directions and stops at maxCount', async () => {
        const category = freshCategory();
        const from = await headOrStart();
        const ids = await appendSpread(category);
        const filter: EventFilter = { streamPrefixes: [`${category}-`] };
        const all = await collect(store.readAll({ fromPosition: from, filter }));

        const after = await collect(store.readAll({ fromPosition: all[2].position, filter }));
        expect(after.map((event) => event.id)).toEqual(ids.slice(3));
        const before = await collect(store.readAll({ fromPosition: all[2].position, direction: 'backwards', filter, maxCount: 2 }));
        expect(before.map((event) => event.id)).toEqual([ids[1], ids[0]]);
        const firstThree = await collect(store.readAll({ fromPosition: from, filter, maxCount: 3 }));
        expect(firstThree.map((event) => event.id)).toEqual(ids.slice(0, 3));
      });

      it('reports a head position at or after the last append', async () => {
        const stream = `${freshCategory()}-1`;
        const { position } = await store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' });
        await untilVisible(position);
        const head = await store.headPosition();
        expect(head).toBeDefined();
        expect(comparePositions(head!, position)).toBeGreaterThanOrEqual(0);
      });
    });

    describe('subscriptions to $all', () => {
      it('catches up from an exclusive checkpoint, signals caughtUp once, then goes live', async () => {
        const category = freshCategory();
        const stream = `${category}-1`;
        const history = probeEvents(`${stream}/history`, 3);
        await store.append(stream, history, { expectedRevision: 'no_stream' });
        const [first] = await collect(store.readStream(stream, { maxCount: 1 }));

        const live = subscribe({ fromPosition: first.position, filter: { streamPrefixes: [`${category}-`] } });
        await live.untilCaughtUp();
        expect(live.eventIds()).toEqual(history.slice(1).map((event) => event.id));
        const caughtUpAt = live.messages.findIndex((message) => message.kind === 'caughtUp');
        const lastHistoryAt = live.messages.findIndex((message) => message.kind === 'event' && message.event.id === history[2].id);
        expect(caughtUpAt).toBeGreaterThan(lastHistoryAt);

        const later = probeEvents(`${stream}/later`, 2);
        await store.append(stream, later, { expectedRevision: 2n });
        await store.append(`${category}-2`, probeEvents(`${category}-2`, 1), { expectedRevision: 'no_stream' });
        await live.untilEvents([...later.map((event) => event.id), probeEvents(`${category}-2`, 1)[0].id]);
        expect(live.events().map((event) => `${event.stream}@${event.revision}`)).toEqual([
          `${stream}@1`,
          `${stream}@2`,
          `${stream}@3`,
          `${stream}@4`,
          `${category}-2@0`,
        ]);
        assertStrictlyIncreasing(live.events());
        expect(live.caughtUpCount()).toBe(1);
      });

      it('filters by event type and emits checkpoints that advance while nothing matches', async () => {
        const category = freshCategory();
        const from = await headOrStart();
        const watcher = subscribe({ fromPosition: from, filter: { eventTypes: [`${category}Matched`] }, checkpointInterval: 1 });
        await watcher.untilCaughtUp();
        // 40 non-matching events: more than EventStoreDB's default filter search window of 32.
        const noise = await store.append(`${category}-noise`, probeEvents(`${category}/noise`, 40), { expectedRevision: 'no_stream' });
        const noiseEvents = await collect(store.readStream(`${category}-noise`));
        await watcher.until(
          () =>
            watcher.messages.some(
              (message) => message.kind === 'checkpoint' && comparePositions(message.position, noiseEvents[31].position) >= 0,
            ),
          `a checkpoint past the 32nd non-matching event (${noise.position.commit})`,
        );
        expect(watcher.events()).toEqual([]);

        const matched = probeEvents(`${category}/matched`, 1, `${category}Matched`);
        await store.append(`${category}-noise`, matched, { expectedRevision: 39n });
        await watcher.untilEvents([matched[0].id]);
        expect(watcher.eventIds()).toEqual([matched[0].id]);
        const checkpoints = watcher.messages.flatMap((message) => (message.kind === 'checkpoint' ? [message.position] : []));
        for (let index = 1; index < checkpoints.length; index++) {
          expect(comparePositions(checkpoints[index], checkpoints[index - 1])).toBeGreaterThan(0);
        }
      });
    });

    describe('concurrency', () => {
      it('16 concurrent appenders on one stream: exactly one wins each revision, losers see the actual revision', async () => {
        if (target.serialisedWritersNote) note(`${name}: ${target.serialisedWritersNote}`);
        const stream = `${freshCategory()}-contended`;
        const winners: string[] = [];
        for (let round = 0; round < 3; round++) {
          const expectedRevision = round === 0 ? ('no_stream' as const) : BigInt(round - 1);
          const attempts = Array.from({ length: 16 }, (_, writer) => probeEvents(`${stream}/round-${round}/writer-${writer}`, 1));
          const outcomes = await Promise.allSettled(attempts.map((events) => store.append(stream, events, { expectedRevision })));
          const won = outcomes.flatMap((outcome, writer) => (outcome.status === 'fulfilled' ? [writer] : []));
          expect(won).toHaveLength(1);
          expect((outcomes[won[0]] as PromiseFulfilledResult<AppendResult>).value.nextExpectedRevision).toBe(BigInt(round));
          for (const outcome of outcomes) {
            if (outcome.status === 'fulfilled') continue;
            expect(outcome.reason).toBeInstanceOf(EventStoreError);
            expect(outcome.reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', details: { actual: BigInt(round) } });
          }
          winners.push(attempts[won[0]][0].id);
        }
        expect((await collect(store.readStream(stream))).map((event) => event.id)).toEqual(winners);
      });

      const lateCommitName =
        'late commit: the append with the lower position commits last; live and fresh subscribers both see both';
      itOrSkip(target.holdAppendOpen ? undefined : (target.lateCommitSkipReason ?? 'no way to hold an append open'))(lateCommitName, async () => {
        const category = freshCategory();
        const from = await headOrStart();
        const filter: EventFilter = { streamPrefixes: [`${category}-`] };
        const live = subscribe({ fromPosition: from, filter });
        await live.untilCaughtUp();

        const early = probeEvents(`${category}/early`, 1);
        const late = probeEvents(`${category}/late`, 1);
        const held = await target.holdAppendOpen!(`${category}-early`, early, { expectedRevision: 'no_stream' });
        const committedFirst = await store.append(`${category}-late`, late, { expectedRevision: 'no_stream' });
        // The held append took the lower insert position but has not committed.
        expect(held.result.position.prepare).toBeLessThan(committedFirst.position.prepare);
        // Give a reader that trusts bare positions every chance to move its checkpoint past `early`.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await held.commit();

        await live.untilEvents([early[0].id, late[0].id]);
        const fresh = subscribe({ fromPosition: from, filter });
        await fresh.untilEvents([early[0].id, late[0].id]);
        expect(live.eventIds()).toEqual([early[0].id, late[0].id]);
        expect(fresh.eventIds()).toEqual(live.eventIds());
        const checkpointsBeforeEarly = live.messages
          .slice(0, live.messages.findIndex((message) => message.kind === 'event'))
          .flatMap((message) => (message.kind === 'checkpoint' ? [message.position] : []));
        const earlyPosition = live.events()[0].position;
        for (const checkpoint of checkpointsBeforeEarly) expect(comparePositions(checkpoint, earlyPosition)).toBeLessThan(0);
      });

      it('property: any interleaving of appends across streams reaches a subscriber exactly once, in one stable order', async () => {
        const plans = fc.array(
          fc.record({ stream: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 3 }), wave: fc.integer({ min: 0, max: 2 }) }),
          { minLength: 1, maxLength: 10 },
        );
        await fc.assert(
          fc.asyncProperty(plans, async (plan) => {
            const category = freshCategory();
            const filter: EventFilter = { streamPrefixes: [`${category}-`] };
            const from = await headOrStart();
            const live = new SubscriptionCollector(store.subscribeToAll({ fromPosition: from, filter }));
            try {
              await live.untilCaughtUp();
              const appended: string[] = [];
              for (let wave = 0; wave <= 2; wave++) {
                // Each wave's appends race each other (truly, on stores with concurrent writers).
                await Promise.all(
                  plan
                    .map((step, index) => ({ ...step, index }))
                    .filter((step) => step.wave === wave)
                    .map(async (step) => {
                      const events = probeEvents(`${category}/${step.index}`, step.size);
                      await store.append(`${category}-${step.stream}`, events, { expectedRevision: 'any' });
                      appended.push(...events.map((event) => event.id));
                    }),
                );
              }
              await live.untilEvents(appended);
              const fresh = new SubscriptionCollector(store.subscribeToAll({ fromPosition: from, filter }));
              try {
                await fresh.untilEvents(appended);
                const order = live.eventIds();
                expect(new Set(order).size).toBe(order.length);
                expect([...order].sort()).toEqual([...appended].sort());
                expect(fresh.eventIds()).toEqual(order);
                const read = await collect(store.readAll({ fromPosition: from, filter }));
                expect(read.map((event) => event.id)).toEqual(order);
                assertStrictlyIncreasing(live.events());
                assertRevisionsDense(live.events());
              } finally {
                await fresh.close();
              }
            } finally {
              await live.close();
            }
          }),
          { numRuns: 6 },
        );
      });
    });

    describe('trace context', () => {
      it("keeps the traceparent of a command's append span in its events' metadata, for stream reads, $all and subscriptions", async () => {
        const exporter = new InMemorySpanExporter();
        startTracing({ endpoint: 'http://127.0.0.1:9', serviceName: 'conformance', exporter });
        try {
          const category = freshCategory();
          const stream = `${category}-traced`;
          const from = await headOrStart();
          const watcher = subscribe({ fromPosition: from, filter: { streamPrefixes: [`${category}-`] } });
          const executor = new CommandExecutor({
            maxAttempts: 3,
            refusal: (violation) => violation,
            conflict: (name) => new Error(`conflict on ${name}`),
          });
          const outcome = await inSpan('command Probe', {}, () =>
            executor.execute(store, stream, probeDecider, { count: 2 }, { correlationId: 'corr-traced', actor: 'user:conformance' }),
          );
          await flushTraces();
          const spans = exporter.getFinishedSpans();
          const command = spans.find((span) => span.name === 'command Probe')!;
          const append = spans.find((span) => span.name === 'eventstore append')!;
          expect(append.parentSpanContext?.spanId).toBe(command.spanContext().spanId);
          expect(append.spanContext().traceId).toBe(command.spanContext().traceId);
          const traceparent = formatTraceparent(append.spanContext());
          expect(outcome.appendedEvents.map((event) => event.metadata.traceparent)).toEqual([traceparent, traceparent]);

          const read = await collect(store.readStream(stream));
          expect(read.map((event) => event.metadata)).toEqual([0, 1].map(() => expect.objectContaining({ correlation_id: 'corr-traced', traceparent })));
          const ids = read.map((event) => event.id);
          await untilVisible(read[1].position);
          const all = await collect(store.readAll({ fromPosition: from, filter: { streamPrefixes: [`${category}-`] } }));
          expect(all.map((event) => event.metadata.traceparent)).toEqual([traceparent, traceparent]);
          await watcher.untilEvents(ids);
          expect(watcher.events().map((event) => event.metadata.traceparent)).toEqual([traceparent, traceparent]);
        } finally {
          await stopTracing();
        }
      });
    });
  });
}

/** Appends `count` probe events per command: just enough of a decider for the executor. */
const probeDecider: Decider<{ count: number }, { type: string; data: Record<string, unknown> }, number> = {
  initialState: () => 0,
  evolve: (state) => state + 1,
  decide: (command, state) => Array.from({ length: command.count }, (_, index) => ({ type: 'ConformanceTraced', data: { index: state + index } })),
};

function assertStrictlyIncreasing(events: RecordedEvent[]): void {
  for (let index = 1; index < events.length; index++) {
    expect(comparePositions(events[index].position, events[index - 1].position)).toBeGreaterThan(0);
  }
}

/** Per stream, delivery order is revision order 0, 1, 2, … with no gap. */
function assertRevisionsDense(events: RecordedEvent[]): void {
  const next = new Map<string, bigint>();
  for (const event of events) {
    expect(event.revision).toBe(next.get(event.stream) ?? 0n);
    next.set(event.stream, event.revision + 1n);
  }
}
