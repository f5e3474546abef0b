// Type-only: nothing of the generated code (nor protobufjs) is loaded by importing these types,
// so the SDK, which runs in browsers, can use them.
import type { openagents } from '../proto';

/**
 * A message's fields as the gateway writes them in proto3 JSON: every field present and non-null
 * (the generated `$Properties` make every field optional, as a decoder must accept).
 */
export type WireFields<P> = { [K in Exclude<keyof P, '$unknowns'>]-?: NonNullable<P[K]> };

export type TopicWatermark = WireFields<openagents.sync.v1.TopicWatermark.$Properties>;
export type RefusedTopic = WireFields<openagents.sync.v1.RefusedTopic.$Properties>;
export type SnapshotPlanTopic = WireFields<openagents.sync.v1.SnapshotPlanTopic.$Properties>;
export type SnapshotPlan = Omit<WireFields<openagents.sync.v1.SnapshotPlan.$Properties>, 'topics'> & { topics: SnapshotPlanTopic[] };

/**
 * Why a topic cannot be replayed from where the client stands (StaleTopic.reason):
 * - retention_floor_breach: the cursor is below the durable floor (rows after it are gone);
 * - replay_budget_exceeded: more updates to replay than the topic class allows;
 * - cursor_missing: no cursor on a topic with a snapshot source; the snapshot holds each document
 *   once at its current version, while the journal may have lost its oldest versions to retention
 *   and holds every version of the rest, so a new client always starts from the snapshot.
 */
export type StaleReason = 'retention_floor_breach' | 'replay_budget_exceeded' | 'cursor_missing';

export type StaleTopic = Omit<WireFields<openagents.sync.v1.StaleTopic.$Properties>, 'reason'> & { reason: StaleReason };

type SyncErrorFields = WireFields<openagents.sync.v1.SyncError.$Properties>;
type SlowConsumerFields = WireFields<openagents.sync.v1.SlowConsumer.$Properties>;

/**
 * An error reply or `sync:error` push as JSON: a SyncError (or, for code slow_consumer, a
 * SlowConsumer), with `code` always present and every other field only where it applies.
 */
export type SyncErrorPayload = { code: string } & Partial<Omit<SyncErrorFields, 'code' | 'stale_topics' | 'snapshot_plan' | 'refused_topics'>> &
  Partial<Omit<SlowConsumerFields, 'code' | 'full_resync_required'>> & {
    stale_topics?: StaleTopic[];
    snapshot_plan?: SnapshotPlan;
    refused_topics?: RefusedTopic[];
  };

/** SnapshotPlan.format in sync:v1. */
export const SNAPSHOT_FORMAT = 'openagents.sync.snapshot.v1';
