import { randomUUID } from 'node:crypto';
import { RecordedEvent } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { RunEventsProjection } from '@khala/projections';
import { connectTestDatabase } from '../support/test-database';
import { freshIdentity } from '../support/system';
import { expectDense, isolatedCategories, journalOf, runCreated, runFrame } from './support/projection-fixtures';

/**
 * The event-log upsert and its journal rows are one statement: only rows the upsert wrote (new, or
 * changed content) are journaled. A replayed batch (a retry after a lost commit acknowledgement
 * that did commit, or a rebuild over existing rows) must add nothing to either topic.
 */
describe('event log projection: replays journal nothing, changed content is journaled again', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(() => db.close());

  it('journals each event once on both topics, skips a replay, and journals a changed document at the next watermarks', async () => {
    const { orgId } = freshIdentity();
    const categories = isolatedCategories();
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const projection = new RunEventsProjection({ name: `t_${categories.tag}_run_events` });
    const recorded = [runCreated(runId, orgId), runFrame(runId, orgId, 'RunStarted')].map(
      (event, index): RecordedEvent => ({
        ...event,
        stream: categories.runStream(runId),
        revision: BigInt(index),
        position: { commit: 1n, prepare: BigInt(index) },
        created: new Date(),
      }),
    );
    const project = (events: RecordedEvent[]) => db.transaction((tx) => projection.project(tx, events));
    const entityTopic = `run:${runId}:events`;

    await project(recorded);
    await project(recorded);
    const classRows = await journalOf(db, 'runtime.run_events', orgId);
    const entityRows = await journalOf(db, entityTopic, orgId);
    expect(classRows.map((row) => row.doc_key)).toEqual([`run_event:${runId}:1`, `run_event:${runId}:2`]);
    expect(entityRows.map((row) => row.doc_key)).toEqual([`run_event:${runId}:1`, `run_event:${runId}:2`]);

    const changed = { ...recorded[1], data: { ...recorded[1].data, payload: { note: 'rewritten' } } };
    await project([recorded[0], changed]);
    const after = await journalOf(db, entityTopic, orgId);
    expect(after.map((row) => row.doc_key)).toEqual([`run_event:${runId}:1`, `run_event:${runId}:2`, `run_event:${runId}:2`]);
    expectDense(after);
    expectDense(await journalOf(db, 'runtime.run_events', orgId));
    const stored = await db.query<{ payload_hash: string }>('SELECT payload_hash FROM runtime.run_events WHERE org_id = $1 AND run_id = $2 AND seq = 2', [orgId, runId]);
    expect(after[2].payload_hash).toBe(stored.rows[0].payload_hash);
    expect(after[2].payload_hash).not.toBe(after[1].payload_hash);
  });
});
