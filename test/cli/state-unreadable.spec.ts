import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';
import { event, runCreated, runFrame } from '../projections/support/projection-fixtures';
import { oa, oaJson } from './support/oa';

describe('oa state over an event its contract refuses', () => {
  let db: Database;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 1 });
    store = new PostgresEventStore(db);
  });
  afterAll(() => db.close());

  it('exits 1 naming the event instead of folding it; --skip-unreadable folds past it and lists it', async () => {
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const org = `org_${randomUUID().slice(0, 8)}`;
    const stream = `run-${runId}`;
    const malformed = event('RunTextDelta', {
      run_id: runId,
      org_id: org,
      actor_user_id: 'user_test',
      occurred_at: new Date().toISOString(),
      frame_id: { a: 1 },
      payload: { text: 'garbage' },
    });
    const good = runFrame(runId, org, 'RunTextDelta', { text: 'fine' });
    await store.append(stream, [runCreated(runId, org), runFrame(runId, org, 'RunStarted'), malformed, good], { expectedRevision: 'no_stream' });

    const refused = await oa(['state', stream]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).not.toContain('"a"');
    expect(refused.stderr).toContain(`event ${malformed.id} at revision 2 of ${stream} cannot be read`);
    expect(refused.stderr).toContain('frame_id: string expected');

    // Up to the event before it, the fold is unaffected.
    const before = await oaJson<{ revision: string }>(['state', stream, '--at-revision', '1']);
    expect(before).toMatchObject({ code: 0, body: { revision: '1' } });

    const skipped = await oaJson<{ revision: string; state: { frameIds: unknown[] }; unreadable: unknown[] }>(['state', stream, '--skip-unreadable']);
    expect(skipped.code).toBe(0);
    expect(skipped.body.revision).toBe('3');
    expect(skipped.body.state.frameIds).toHaveLength(2);
    expect(skipped.body.state.frameIds.every((id) => typeof id === 'string')).toBe(true);
    expect(skipped.body.unreadable).toEqual([
      { revision: '2', event_id: malformed.id, type: 'RunTextDelta', reason: expect.stringContaining('frame_id: string expected') as string },
    ]);
    expect(skipped.stderr).toContain(`skipped unreadable event ${malformed.id}`);
  });
});
