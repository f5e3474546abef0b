import { randomUUID } from 'node:crypto';
import { EventStore, PostgresEventStore, ReadStreamOptions } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';
import { AppendRunFrames } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.command';
import { AppendRunFramesHandler } from '../../apps/runtime/src/runs/commands/append-run-frames/append-run-frames.handler';
import { CreateRun } from '../../apps/runtime/src/runs/commands/create-run/create-run.command';
import { CreateRunHandler } from '../../apps/runtime/src/runs/commands/create-run/create-run.handler';
import { runStream } from '../../apps/runtime/src/runs/domain/run.decider';

/** The real store, counting the stream reads a command makes. */
function countingReads(store: PostgresEventStore): { store: EventStore; reads: string[] } {
  const reads: string[] = [];
  const counted = Object.create(store) as PostgresEventStore;
  counted.readStream = (stream: string, options?: ReadStreamOptions) => {
    reads.push(stream);
    return store.readStream(stream, options);
  };
  return { store: counted, reads };
}

/**
 * CreateRun decides on the empty stream without reading it (`newStream`): the append's no_stream
 * expectation is the check. A create whose stream exists after all (a retry with the same
 * idempotency key, after the run moved on) must still answer as the first create did, by reading.
 */
describe('creating a run without reading its stream first', () => {
  let db: Database;
  let store: PostgresEventStore;
  const orgId = `org_${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    store = new PostgresEventStore(db);
  });
  afterAll(() => db.close());

  it('a fresh run is created with no read of its stream', async () => {
    const { store: counted, reads } = countingReads(store);
    const { runId, revision } = await new CreateRunHandler(counted).execute(new CreateRun(orgId, 'user_1', undefined, 'corr'));
    expect(revision).toBe(0n);
    expect(reads).toEqual([]);
    const events = [];
    for await (const event of store.readStream(runStream(runId))) events.push(event.type);
    expect(events).toEqual(['RunCreated']);
  });

  it('a retried create (same idempotency key) after the run moved on answers the first create and stores nothing new', async () => {
    const key = `key-${randomUUID()}`;
    const first = await new CreateRunHandler(store).execute(new CreateRun(orgId, 'user_1', key, 'corr'));
    await new AppendRunFramesHandler(store).execute(
      new AppendRunFrames(orgId, 'user_1', first.runId, [{ frameId: 'start', type: 'run.started', payload: {} }], undefined, 'corr'),
    );
    // Another instance (its own executor and cache) retries the create: the store acknowledges its
    // RunCreated as a replay. That instance then last saw the run at revision 0; its next command
    // must still land after RunStarted, not on that stale sight.
    const other = new PostgresEventStore(db);
    const retry = await new CreateRunHandler(other).execute(new CreateRun(orgId, 'user_1', key, 'corr'));
    expect(retry).toEqual({ runId: first.runId, revision: 0n });
    const next = await new AppendRunFramesHandler(other).execute(
      new AppendRunFrames(orgId, 'user_1', first.runId, [{ frameId: 'f1', type: 'run.text_delta', payload: { text: 'f1' } }], undefined, 'corr'),
    );
    expect(next).toMatchObject({ accepted: 1, revision: 2n });
    const types = [];
    for await (const event of store.readStream(runStream(first.runId))) types.push(event.type);
    expect(types).toEqual(['RunCreated', 'RunStarted', 'RunTextDelta']);
  });
});
