import { evolveRunSummary, RunEventLike, RunSummaryDocument } from '@khala/projections';

const base = { run_id: 'r1', org_id: 'o1', actor_user_id: 'u1' };
const at = (second: number) => `2026-11-22T00:00:${String(second).padStart(2, '0')}.000Z`;
const event = (type: string, second: number, extra: Record<string, unknown> = {}): RunEventLike => ({
  type,
  data: { ...base, occurred_at: at(second), ...extra },
});
const fold = (events: RunEventLike[]) => events.reduce<RunSummaryDocument | undefined>(evolveRunSummary, undefined);

describe('run summary fold (runtime.run_summaries document)', () => {
  it('follows a run from created to succeeded, counting frames', () => {
    const summary = fold([
      event('RunCreated', 0, { thread_id: 't1', metadata: { k: 'v' } }),
      event('RunStarted', 1, { frame_id: 'f1', payload: {} }),
      event('RunTextDelta', 2, { frame_id: 'f2', payload: { text: 'a' } }),
      event('RunToolCall', 3, { frame_id: 'f3', payload: {} }),
      event('RunToolResult', 4, { frame_id: 'f4', payload: {} }),
      event('RunFinished', 5, { frame_id: 'f5', payload: {} }),
    ]);
    expect(summary).toEqual({
      run_id: 'r1',
      org_id: 'o1',
      status: 'succeeded',
      thread_id: 't1',
      metadata: { k: 'v' },
      created_by_user_id: 'u1',
      created_at: at(0),
      updated_at: at(5),
      started_at: at(1),
      finished_at: at(5),
      cancel_reason: null,
      failure: null,
      frame_count: 5,
    });
  });

  it('records the failure payload', () => {
    const summary = fold([event('RunCreated', 0), event('RunStarted', 1, { frame_id: 'f1' }), event('RunFailed', 2, { frame_id: 'f2', payload: { error: 'x' } })]);
    expect(summary).toMatchObject({ status: 'failed', failure: { error: 'x' }, finished_at: at(2) });
  });

  it('canceling, then a terminal frame and RunCanceled: canceled with the reason', () => {
    const running = [event('RunCreated', 0), event('RunStarted', 1, { frame_id: 'f1' })];
    expect(fold([...running, event('RunCancelRequested', 2, { reason: 'user' })])).toMatchObject({ status: 'canceling', cancel_reason: 'user' });
    expect(
      fold([
        ...running,
        event('RunCancelRequested', 2, { reason: 'user' }),
        event('RunFinished', 3, { frame_id: 'f2' }),
        event('RunCanceled', 3, { reason: 'user' }),
      ]),
    ).toMatchObject({ status: 'canceled', cancel_reason: 'user', finished_at: at(3), frame_count: 2 });
  });

  it('reads events stored before the proto contract (created_by)', () => {
    const legacy: RunEventLike = { type: 'RunCreated', data: { run_id: 'r1', org_id: 'o1', created_by: 'u0', occurred_at: at(0) } };
    expect(fold([legacy])?.created_by_user_id).toBe('u0');
  });

  it('an event it does not know leaves the same document', () => {
    const created = fold([event('RunCreated', 0)]);
    expect(evolveRunSummary(created, event('SomethingElse', 1))).toBe(created);
  });
});
