import { randomUUID } from 'node:crypto';
import { Database } from '@khala/platform';
import {
  AppendOptions,
  AppendResult,
  EventStore,
  isWrongExpectedVersion,
  NewEvent,
  PostgresEventStore,
  ReadStreamOptions,
} from '@khala/eventstore';
import { connectTestDatabase } from '../support/test-database';
import { AppendRunFrames } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.command';
import { AppendRunFramesHandler } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.handler';
import { CreateRun } from '../../apps/runtime/src/runs/commands/create-run/create-run.command';
import { CreateRunHandler } from '../../apps/runtime/src/runs/commands/create-run/create-run.handler';
import { FrameType, runStream } from '../../apps/runtime/src/runs/domain/run.decider';
import { RuntimeError } from '../../apps/runtime/src/runtime.error';

/** The real store, counting what the executor asks of it. */
class ObservedStore {
  appends = 0;
  conflicts = 0;
  reads: Array<ReadStreamOptions | undefined> = [];
  readonly store: EventStore;
  constructor(inner: EventStore) {
    this.store = Object.assign(Object.create(inner) as EventStore, {
      append: async (stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> => {
        this.appends += 1;
        try {
          return await inner.append(stream, events, options);
        } catch (error) {
          if (isWrongExpectedVersion(error)) this.conflicts += 1;
          throw error;
        }
      },
      readStream: (stream: string, options?: ReadStreamOptions) => {
        this.reads.push(options);
        return inner.readStream(stream, options);
      },
    });
  }
}

class Instance {
  readonly observed: ObservedStore;
  private readonly frames: AppendRunFramesHandler;
  private readonly create: CreateRunHandler;
  constructor(
    store: EventStore,
    readonly orgId: string,
  ) {
    this.observed = new ObservedStore(store);
    this.frames = new AppendRunFramesHandler(this.observed.store);
    this.create = new CreateRunHandler(this.observed.store);
  }
  async startedRun(): Promise<string> {
    const { runId } = await this.create.execute(new CreateRun(this.orgId, 'user_1', undefined, 'corr'));
    await this.append(runId, ['start', 'run.started']);
    return runId;
  }
  append(runId: string, ...frames: [string, FrameType?][]) {
    const list = frames.map(([frameId, type]) => ({
      frameId,
      type: type ?? ('run.text_delta' as FrameType),
      payload: {},
    }));
    return this.frames.execute(new AppendRunFrames(this.orgId, 'user_1', runId, list, undefined, 'corr'));
  }
}

async function stored(store: EventStore, runId: string): Promise<Array<{ id: string; revision: bigint }>> {
  const events = [];
  for await (const event of store.readStream(runStream(runId))) {
    events.push({
      id: event.type === 'RunCreated' ? 'created' : String(event.data.frame_id),
      revision: event.revision,
    });
  }
  return events;
}

/**
 * runtime's command executor (runtime-commands.ts) with commands racing inside one process: they queue per stream, and
 * those that queued during an append share the next one. On the real store (Postgres or PGlite:
 * appends of one stream never overlap here, so PGlite's one-transaction-at-a-time is no obstacle).
 */
describe('commands on one stream in one process', () => {
  let db: Database;
  let instance: Instance;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 4 });
    instance = new Instance(new PostgresEventStore(db), `org_${randomUUID().slice(0, 8)}`);
  });
  afterAll(() => db.close());

  it('20 at once: no append loses a race, they share appends, each answers its own revision', async () => {
    const runId = await instance.startedRun();
    const before = { ...instance.observed };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instance.append(runId, [`p${i}`])),
    );
    expect(instance.observed.conflicts - before.conflicts).toBe(0);
    expect(instance.observed.appends - before.appends).toBeLessThan(20);
    const events = await stored(instance.observed.store, runId);
    // Stored in arrival order, each at the revision its command answered.
    expect(events.map((event) => event.id)).toEqual(['created', 'start', ...results.map((_, i) => `p${i}`)]);
    results.forEach((result, i) => expect(result).toMatchObject({ accepted: 1, revision: BigInt(i + 2) }));
  });

  it('a command refused inside a shared append fails alone; the same frame sent twice is stored once', async () => {
    const runId = await instance.startedRun();
    const [first, restart, shared, again, last] = await Promise.allSettled([
      instance.append(runId, ['a']),
      instance.append(runId, ['again', 'run.started']), // not allowed while running
      instance.append(runId, ['s'], ['b']),
      instance.append(runId, ['s'], ['c']),
      instance.append(runId, ['d']),
    ]);
    expect(restart).toMatchObject({ status: 'rejected', reason: expect.any(RuntimeError) });
    expect((restart as PromiseRejectedResult).reason.code).toBe('invalid_frame_sequence');
    expect(first).toMatchObject({ status: 'fulfilled', value: { accepted: 1, revision: 2n } });
    expect(shared).toMatchObject({ status: 'fulfilled', value: { accepted: 2, revision: 4n } });
    expect(again).toMatchObject({ status: 'fulfilled', value: { accepted: 1, revision: 5n } });
    expect(last).toMatchObject({ status: 'fulfilled', value: { accepted: 1, revision: 6n } });
    expect((await stored(instance.observed.store, runId)).map((event) => event.id)).toEqual([
      'created',
      'start',
      'a',
      's',
      'b',
      'c',
      'd',
    ]);
  });

  it('after another instance appended, a lost race reads only the events appended since', async () => {
    const runId = await instance.startedRun();
    await instance.append(runId, ['mine']); // this instance's state: revision 2
    // Another instance (its own store object, so its own queue and state) appends behind its back.
    const other = new AppendRunFramesHandler(new PostgresEventStore(db));
    await other.execute(
      new AppendRunFrames(
        instance.orgId,
        'user_2',
        runId,
        [{ frameId: 'theirs', type: 'run.text_delta', payload: {} }],
        undefined,
        'corr',
      ),
    );
    instance.observed.reads = [];
    const conflictsBefore = instance.observed.conflicts;
    expect(await instance.append(runId, ['next'])).toMatchObject({ accepted: 1, revision: 4n });
    expect(instance.observed.conflicts - conflictsBefore).toBe(1);
    expect(instance.observed.reads).toEqual([{ fromRevision: 3n }]);
    expect((await stored(instance.observed.store, runId)).map((event) => event.id)).toEqual([
      'created',
      'start',
      'mine',
      'theirs',
      'next',
    ]);
  });
});
