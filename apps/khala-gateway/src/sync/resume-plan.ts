import { SNAPSHOT_FORMAT, type SnapshotPlanTopic, type StaleReason, type StaleTopic } from '@khala/contracts';
import type { TopicPolicy, TopicState } from './journal.repository';

/**
 * Where a subscribe starts each topic (khala-protocol.md §7), decided from the client's cursor,
 * the topic's durable floor and head, and its class policy. Pure, so every rule is unit-tested.
 */

export type TopicPlan =
  /** Replay (start, head] then go live. `retainedFrom` is reported to the client (its base without a cursor is retainedFrom - 1). */
  | { kind: 'replay'; topic: string; start: number; head: number; retainedFrom: number }
  /** The cursor is beyond the head: bad_subscription. */
  | { kind: 'ahead'; topic: string }
  /** Cannot replay: stale_cursor, with the snapshot plan when the topic has a snapshot source. */
  | { kind: 'stale'; topic: string; stale: StaleTopic[]; snapshot?: SnapshotPlanTopic };

export function planTopic(topic: string, cursor: number | undefined, state: TopicState, policy: TopicPolicy): TopicPlan {
  const { head, retainedFrom } = state;
  if (cursor !== undefined && cursor > head) return { kind: 'ahead', topic };
  const floor = Math.max(0, retainedFrom - 1);
  const reasons: StaleReason[] = [];
  if (cursor === undefined && policy.hasSnapshot) {
    reasons.push('cursor_missing');
  } else {
    // No cursor on a topic without a snapshot: replay what is retained (never a retention breach);
    // the client takes retained_from - 1 as its base, so the first update is in order.
    const start = cursor ?? floor;
    if (cursor !== undefined && cursor < floor) reasons.push('retention_floor_breach');
    if (head - start > policy.replayBudget) reasons.push('replay_budget_exceeded');
    if (reasons.length === 0) return { kind: 'replay', topic, start, head, retainedFrom: Math.max(1, retainedFrom) };
  }
  const resumeAfter = cursor ?? (policy.hasSnapshot ? 0 : floor);
  return {
    kind: 'stale',
    topic,
    stale: reasons.map((reason) => staleTopic(topic, reason, resumeAfter, retainedFrom, head, policy)),
    snapshot: policy.hasSnapshot ? snapshotPlanTopic(topic, head) : undefined,
  };
}

export function staleTopic(topic: string, reason: StaleReason, resumeAfter: number, retainedFrom: number, head: number, policy: TopicPolicy): StaleTopic {
  return {
    topic,
    reason,
    qos_tier: policy.hasSnapshot ? 'snapshot_backed' : 'replay_only',
    resume_after: resumeAfter,
    retention_floor: Math.max(0, retainedFrom - 1),
    head_watermark: head,
    replay_lag: head - resumeAfter,
    replay_budget_events: policy.replayBudget,
  };
}

export function snapshotPlanTopic(topic: string, head: number): SnapshotPlanTopic {
  return { topic, head_watermark: head, snapshot_url: `/api/sync/snapshot?topic=${encodeURIComponent(topic)}` };
}

/** The stale_cursor payload (§7) for the stale plans of one subscribe (or one pruned cursor). */
export function staleCursorDetails(plans: Extract<TopicPlan, { kind: 'stale' }>[]): Record<string, unknown> {
  const stale = plans.flatMap((plan) => plan.stale);
  return {
    full_resync_required: true,
    reason_codes: [...new Set(stale.map((entry) => entry.reason))],
    stale_topics: stale,
    snapshot_plan: { format: SNAPSHOT_FORMAT, topics: plans.flatMap((plan) => (plan.snapshot ? [plan.snapshot] : [])) },
  };
}
