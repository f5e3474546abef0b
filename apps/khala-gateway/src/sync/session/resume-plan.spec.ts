import { planTopic, prunedCursorPush, subscribeVerdict, TopicPlan } from './resume-plan';

/** Where a subscribe starts each topic (docs/protocol/README.md §7), given the cursor, floor, head and policy. */
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

  it('a subscribe refuses the whole request for a cursor ahead of its head, then for a stale one; otherwise replays every topic', () => {
    const replay: TopicPlan = planTopic('a', 5, aged, replayOnly);
    const stale: TopicPlan = planTopic('b', 1, aged, replayOnly);
    const ahead: TopicPlan = planTopic('c', 99, aged, replayOnly);
    expect(subscribeVerdict([replay, stale, ahead])).toEqual({ kind: 'ahead', topics: ['c'] });
    expect(subscribeVerdict([replay, stale])).toEqual({ kind: 'stale', plans: [stale] });
    expect(subscribeVerdict([replay])).toEqual({ kind: 'start', replays: [replay] });
  });

  it('a cursor the journal stopped holding is a retention_floor_breach push, with the snapshot plan when the topic has a source', () => {
    expect(prunedCursorPush('s', 3, aged, snapshotBacked)).toEqual({
      code: 'stale_cursor',
      message: 'the journal no longer holds updates after this cursor',
      full_resync_required: true,
      reason_codes: ['retention_floor_breach'],
      stale_topics: [expect.objectContaining({ topic: 's', reason: 'retention_floor_breach', resume_after: 3, retention_floor: 5, head_watermark: 12, replay_lag: 9 })],
      snapshot_plan: { format: 'openagents.sync.snapshot.v1', topics: [{ topic: 's', head_watermark: 12, snapshot_url: '/api/sync/snapshot?topic=s' }] },
    });
    expect(prunedCursorPush('t', 3, aged, replayOnly).snapshot_plan).toEqual({ format: 'openagents.sync.snapshot.v1', topics: [] });
  });
});
