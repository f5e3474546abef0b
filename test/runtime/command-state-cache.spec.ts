import { randomUUID } from 'node:crypto';
import { Database } from '@khala/platform';
import { EventStore, PostgresEventStore } from '@khala/eventstore';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { AppendRunFrames } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.command';
import { AppendRunFramesHandler } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.handler';
import { CreateRun } from '../../apps/runtime/src/runs/commands/create-run/create-run.command';
import { CreateRunHandler } from '../../apps/runtime/src/runs/commands/create-run/create-run.handler';
import { FrameType, runStream } from '../../apps/runtime/src/runs/domain/run.decider';
import { RuntimeError } from '../../apps/runtime/src/runtime.error';

/**
 * Runtime's command executor decides from the state it last saw of a stream (stream-state-cache.ts).
 * Two PostgresEventStore instances stand for two runtime instances: each has its own cache, so
 * each keeps going stale while the other appends; the stream must come out exactly as without
 * any cache.
 */
class Instance {
  private readonly frames: AppendRunFramesHandler;
  private readonly create: CreateRunHandler;
  constructor(
    readonly store: EventStore,
    private readonly orgId: string,
  ) {
    this.frames = new AppendRunFramesHandler(store);
    this.create = new CreateRunHandler(store);
  }
  async createRun(): Promise<string> {
    return (await this.create.execute(new CreateRun(this.orgId, 'user_1', undefined, 'corr'))).runId;
  }
  append(runId: string, ...frames: [string, FrameType?][]) {
    const list = frames.map(([frameId, type]) => ({ frameId, type: type ?? ('run.text_delta' as FrameType), payload: type ? {} : { text: frameId } }));
    return this.frames.execute(new AppendRunFrames(this.orgId, 'user_1', runId, list, undefined, 'corr'));
  }
}

async function storedFrames(store: EventStore, runId: string): Promise<{ ids: string[]; revisions: number[] }> {
  const ids: string[] = [];
  const revisions: number[] = [];
  for await (const event of store.readStream(runStream(runId))) {
    ids.push(event.type === 'RunCreated' ? 'created' : String(event.data.frame_id));
    revisions.push(Number(event.revision));
  }
  return { ids, revisions };
}

/**
 * Two instances of one org for the tests of the enclosing describe block, each on a pool of its
 * own (`poolSize` connections), opened before its tests and closed after them.
 */
function useTwoInstances(poolSize: number): { a: Instance; b: Instance } {
  const instances = {} as { a: Instance; b: Instance };
  const databases: Database[] = [];
  beforeAll(async () => {
    databases.push(await connectTestDatabase({ max: poolSize }), await connectTestDatabase({ max: poolSize }));
    const orgId = `org_${randomUUID().slice(0, 8)}`;
    instances.a = new Instance(new PostgresEventStore(databases[0]), orgId);
    instances.b = new Instance(new PostgresEventStore(databases[1]), orgId);
  });
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.close()));
  });
  return instances;
}

describe('commands decided from a cached stream state', () => {
  const instances = useTwoInstances(4);

  it('alternating instances: every append lands at the next revision, a repeated frame is not stored twice', async () => {
    const { a, b } = instances;
    const runId = await a.createRun();
    expect((await a.append(runId, ['start', 'run.started'])).revision).toBe(1n);
    expect((await b.append(runId, ['f1'])).revision).toBe(2n); // b reads the stream (nothing cached)
    expect((await a.append(runId, ['f2'])).revision).toBe(3n); // a's state (revision 1) is stale
    expect(await a.append(runId, ['f1'])).toMatchObject({ accepted: 0, revision: 3n }); // stored via b
    expect(await b.append(runId, ['f2'], ['f3'])).toMatchObject({ accepted: 1, revision: 4n }); // b's state (2) is stale
    expect(await a.append(runId, ['f3'])).toMatchObject({ accepted: 0, revision: 4n });
    expect(await a.append(runId, ['f4'])).toMatchObject({ accepted: 1, revision: 5n });
    expect(await storedFrames(a.store, runId)).toEqual({ ids: ['created', 'start', 'f1', 'f2', 'f3', 'f4'], revisions: [0, 1, 2, 3, 4, 5] });
  });

  it('a rule that another instance made true is enforced even though this instance last saw the run open', async () => {
    const { a, b } = instances;
    const runId = await a.createRun();
    await a.append(runId, ['start', 'run.started'], ['f1']);
    await b.append(runId, ['done', 'run.finished']);
    const refused = await a.append(runId, ['late']).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RuntimeError);
    expect((refused as RuntimeError).code).toBe('run_terminal');
    expect((await storedFrames(a.store, runId)).ids).toEqual(['created', 'start', 'f1', 'done']);
  });
});

describeWithConcurrentPostgres('commands decided from cached stream states, racing', () => {
  const instances = useTwoInstances(8);

  it('two instances appending to one run at once: each accepted frame stored once, revisions dense', async () => {
    const { a, b } = instances;
    const runId = await a.createRun();
    await a.append(runId, ['start', 'run.started']);
    await b.append(runId, ['warm']); // both instances now hold a state of the run
    const sends = Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).append(runId, [`p${i}`], ['shared']).then(
      (result) => ({ ok: true as const, result }),
      (error: RuntimeError) => ({ ok: false as const, code: error.code }),
    ));
    const outcomes = await Promise.all(sends);
    for (const outcome of outcomes) if (!outcome.ok) expect(outcome.code).toBe('concurrency_conflict');
    const accepted = outcomes.flatMap((outcome, i) => (outcome.ok ? [`p${i}`] : []));
    const { ids, revisions } = await storedFrames(a.store, runId);
    expect(revisions).toEqual(ids.map((_, i) => i));
    expect(ids.filter((id) => id === 'shared')).toHaveLength(1);
    expect(ids.filter((id) => id.startsWith('p')).sort()).toEqual(accepted.sort());
    // Afterwards either instance continues at the true head.
    expect((await a.append(runId, ['after-a'])).revision).toBe(BigInt(ids.length));
    expect((await b.append(runId, ['after-b'])).revision).toBe(BigInt(ids.length + 1));
  });
});
