import { SNAPSHOT_FORMAT, type SnapshotPlanTopic, type StaleReason, type StaleTopic, type SyncErrorPayload } from '@khala/contracts';
import type { TopicPolicy, TopicState } from '../journal.repository';

/**
 * Where a subscribe starts each topic (docs/protocol/README.md §7), decided from the client's cursor,
 * the topic's durable floor and head, and its class policy. Pure, so every rule is unit-tested.
 */

export type TopicPlan =
  /** Replay (start, head] then go live. `retainedFrom` is reported to the client (its base without a cursor is retainedFrom - 1). */
  | { kind: 'replay'; topic: string; start: number; head: number; retainedFrom: number }
  /** The cursor is beyond the head: bad_subscription. */
  | { kind: 'ahead'; topic: string }
  /** Cannot replay: stale_cursor, with the snapshot plan when the topic has a snapshot source. */
  | { kind: 'stale'; topic: string; stale: StaleTopic[]; snapshot?: SnapshotPlanTopic };

export type ReplayPlan = Extract<TopicPlan, { kind: 'replay' }>;
export type StalePlan = Extract<TopicPlan, { kind: 'stale' }>;

/** Policy of a topic class missing from khala.topic_classes (never expected; replay-only, small budget). */
export const DEFAULT_POLICY: TopicPolicy = { replayBudget: 3000, hasSnapshot: false };
export const STALE_CURSOR_MESSAGE = 'cursor cannot be resumed; bootstrap from the snapshot or resubscribe';

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
export function staleCursorDetails(plans: StalePlan[]): Required<Pick<SyncErrorPayload, 'full_resync_required' | 'reason_codes' | 'stale_topics' | 'snapshot_plan'>> {
  const stale = plans.flatMap((plan) => plan.stale);
  return {
    full_resync_required: true,
    reason_codes: [...new Set(stale.map((entry) => entry.reason))],
    stale_topics: stale,
    snapshot_plan: { format: SNAPSHOT_FORMAT, topics: plans.flatMap((plan) => (plan.snapshot ? [plan.snapshot] : [])) },
  };
}

/**
 * What a subscribe does with the plans of the topics it may have: a cursor ahead of its head
 * refuses the request (bad_subscription), then any stale cursor does (stale_cursor); otherwise
 * every topic replays. Refusing the whole request keeps a subscribe all-or-nothing for the client.
 */
export type SubscribeVerdict = { kind: 'start'; replays: ReplayPlan[] } | { kind: 'ahead'; topics: string[] } | { kind: 'stale'; plans: StalePlan[] };

export function subscribeVerdict(plans: TopicPlan[]): SubscribeVerdict {
  const ahead = plans.filter((plan) => plan.kind === 'ahead').map((plan) => plan.topic);
  if (ahead.length) return { kind: 'ahead', topics: ahead };
  const stale = plans.filter((plan): plan is StalePlan => plan.kind === 'stale');
  if (stale.length) return { kind: 'stale', plans: stale };
  return { kind: 'start', replays: plans.filter((plan): plan is ReplayPlan => plan.kind === 'replay') };
}

/**
 * The sync:error push for a topic already subscribed whose cursor turned out stale: an entity topic
 * decided after the others started (its plan), or a cursor the journal stopped holding mid-stream
 * (prunedCursorPush).
 */
export function staleCursorPush(plan: StalePlan): SyncErrorPayload {
  return { code: 'stale_cursor', message: STALE_CURSOR_MESSAGE, ...staleCursorDetails([plan]) };
}

/**
 * The journal no longer holds the row after `cursor` (retention ran while the subscriber lagged, or
 * a reset moved the floor past it): the subscription ends with this push.
 */
export function prunedCursorPush(topic: string, cursor: number, state: TopicState, policy: TopicPolicy): SyncErrorPayload {
  return {
    code: 'stale_cursor',
    message: 'the journal no longer holds updates after this cursor',
    full_resync_required: true,
    reason_codes: ['retention_floor_breach'],
    stale_topics: [staleTopic(topic, 'retention_floor_breach', cursor, state.retainedFrom, state.head, policy)],
    snapshot_plan: {
      format: SNAPSHOT_FORMAT,
      topics: policy.hasSnapshot ? [snapshotPlanTopic(topic, state.head)] : [],
    },
  };
}
