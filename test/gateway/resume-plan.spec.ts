import { planTopic } from '../../apps/khala-gateway/src/sync/resume-plan';

/** Where a subscribe starts each topic (khala-protocol.md §7), given the cursor, floor, head and policy. */
describe('resume planning', () => {
  const replayOnly = { replayBudget: 100, hasSnapshot: false };
  const snapshotBacked = { replayBudget: 100, hasSnapshot: true };
  const aged = { head: 12, retainedFrom: 6 };

  it('without a cursor, a topic without a snapshot replays what is retained and reports where it starts', () => {
    expect(planTopic('t', undefined, aged, replayOnly)).toEqual({ kind: 'replay', topic: 't', start: 5, head: 12, retainedFrom: 6 });
    expect(planTopic('t', undefined, { head: 0, retainedFrom: 1 }, replayOnly)).toEqual({ kind: 'replay', topic: 't', start: 0, head: 0, retainedFrom: 1 });
    // After rebuild --reset the floor is past the head: nothing to replay, the stream starts at the next watermark.
    expect(planTopic('t', undefined, { head: 13, retainedFrom: 14 }, replayOnly)).toMatchObject({ kind: 'replay', start: 13, retainedFrom: 14 });
  });

  it('without a cursor, a topic without a snapshot is still bounded by its replay budget (then a reset, no snapshot)', () => {
    const plan = planTopic('t', undefined, { head: 500, retainedFrom: 1 }, replayOnly);
    expect(plan).toEqual({ kind: 'stale', topic: 't', stale: [expect.objectContaining({ reason: 'replay_budget_exceeded', resume_after: 0, replay_lag: 500 })], snapshot: undefined });
  });

  it('without a cursor, a topic with a snapshot source always gets the snapshot plan, whatever the journal holds', () => {
    for (const state of [aged, { head: 0, retainedFrom: 1 }, { head: 40, retainedFrom: 1 }, { head: 25_000, retainedFrom: 1 }]) {
      expect(planTopic('s', undefined, state, snapshotBacked)).toEqual({
        kind: 'stale',
        topic: 's',
        stale: [
          {
            topic: 's',
            reason: 'cursor_missing',
            qos_tier: 'snapshot_backed',
            resume_after: 0,
            retention_floor: state.retainedFrom - 1,
            head_watermark: state.head,
            replay_lag: state.head,
            replay_budget_events: 100,
          },
        ],
        snapshot: { topic: 's', head_watermark: state.head, snapshot_url: '/api/sync/snapshot?topic=s' },
      });
    }
  });

  it('with a cursor: resumable from the floor up to the head, stale below the floor or over the budget, ahead beyond the head', () => {
    expect(planTopic('t', 5, aged, replayOnly)).toMatchObject({ kind: 'replay', start: 5 });
    expect(planTopic('t', 12, aged, replayOnly)).toMatchObject({ kind: 'replay', start: 12 });
    expect(planTopic('t', 13, aged, replayOnly)).toEqual({ kind: 'ahead', topic: 't' });
    expect(planTopic('t', 4, aged, replayOnly)).toMatchObject({ kind: 'stale', stale: [{ reason: 'retention_floor_breach', retention_floor: 5 }], snapshot: undefined });
    expect(planTopic('s', 4, aged, snapshotBacked)).toMatchObject({ kind: 'stale', snapshot: { topic: 's', head_watermark: 12 } });
    expect(planTopic('s', 0, { head: 300, retainedFrom: 50 }, snapshotBacked)).toMatchObject({
      kind: 'stale',
      stale: [{ reason: 'retention_floor_breach' }, { reason: 'replay_budget_exceeded' }],
    });
  });
});
