import type * as contract from '@khala/contracts/sync';
import { SNAPSHOT_FORMAT } from '@khala/contracts/sync';
import type * as sdk from './wire-types';

/** true when each type is assignable to the other (the same shape, whatever spelled it). */
type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Compile-time: `npm run typecheck` fails here when the SDK's plain types drift from the contract's
// types generated from proto/openagents/sync.
const sameShapes: {
  topicWatermark: SameShape<sdk.TopicWatermark, contract.TopicWatermark>;
  refusedTopic: SameShape<sdk.RefusedTopic, contract.RefusedTopic>;
  snapshotPlanTopic: SameShape<sdk.SnapshotPlanTopic, contract.SnapshotPlanTopic>;
  snapshotPlan: SameShape<sdk.SnapshotPlan, contract.SnapshotPlan>;
  staleReason: SameShape<sdk.StaleReason, contract.StaleReason>;
  staleTopic: SameShape<sdk.StaleTopic, contract.StaleTopic>;
  syncErrorPayload: SameShape<sdk.SyncErrorPayload, contract.SyncErrorPayload>;
  frame: SameShape<sdk.Frame, contract.Frame>;
} = { topicWatermark: true, refusedTopic: true, snapshotPlanTopic: true, snapshotPlan: true, staleReason: true, staleTopic: true, syncErrorPayload: true, frame: true };

describe('the SDK wire types', () => {
  it('have the shape of the contract types generated from proto/openagents/sync', () => {
    expect(Object.values(sameShapes).every(Boolean)).toBe(true);
  });

  it('take a contract stale_cursor payload as it is', () => {
    const fromContract: contract.SyncErrorPayload = {
      code: 'stale_cursor',
      full_resync_required: true,
      stale_topics: [
        { topic: 'runtime.run_summaries', reason: 'cursor_missing', qos_tier: 'snapshot_backed', resume_after: 0, retention_floor: 1, head_watermark: 4, replay_lag: 4, replay_budget_events: 20000 },
      ],
      snapshot_plan: { format: SNAPSHOT_FORMAT, topics: [{ topic: 'runtime.run_summaries', head_watermark: 4, snapshot_url: '/api/sync/snapshot?topic=runtime.run_summaries' }] },
    };
    const inTheSdk: sdk.SyncErrorPayload = fromContract;
    expect(inTheSdk.snapshot_plan?.topics[0].head_watermark).toBe(4);
  });
});
