/**
 * The sync:v1 error and cursor types as plain interfaces, so the published package (and its type
 * declarations) stands alone. Their home is proto/openagents/sync: wire-types.spec.ts fails the
 * typecheck when these and the contract's generated types stop being the same shape.
 */
export type { Frame } from '@khala/contracts/sync/phoenix-frame';

export interface TopicWatermark {
  topic: string;
  watermark: number;
}

export interface RefusedTopic {
  topic: string;
  /** forbidden_topic, or bad_subscription (an entity topic's cursor ahead of its head). */
  code: string;
  message: string;
}

export interface SnapshotPlanTopic {
  topic: string;
  head_watermark: number;
  /** A path (resolve it against the HTTP origin) of GET /api/sync/snapshot for this topic. */
  snapshot_url: string;
}

export interface SnapshotPlan {
  /** Always `openagents.sync.snapshot.v1`. */
  format: string;
  topics: SnapshotPlanTopic[];
}

/**
 * Why a topic cannot be replayed from where the client stands:
 * - retention_floor_breach: the cursor is below the durable floor (rows after it are gone);
 * - replay_budget_exceeded: more updates to replay than the topic class allows;
 * - cursor_missing: no cursor on a topic with a snapshot source (a new client starts from the snapshot).
 */
export type StaleReason = 'retention_floor_breach' | 'replay_budget_exceeded' | 'cursor_missing';

export interface StaleTopic {
  topic: string;
  reason: StaleReason;
  qos_tier: string;
  resume_after: number;
  retention_floor: number;
  head_watermark: number;
  replay_lag: number;
  replay_budget_events: number;
}

/**
 * An error reply or `sync:error` push: a SyncError (or, for code slow_consumer, a SlowConsumer),
 * with `code` always present and every other field only where it applies.
 */
export interface SyncErrorPayload {
  code: string;
  message?: string;
  full_resync_required?: boolean;
  reason_codes?: string[];
  stale_topics?: StaleTopic[];
  snapshot_plan?: SnapshotPlan;
  forbidden_topics?: string[];
  retry_after_ms?: number;
  reauth_required?: boolean;
  reason?: string;
  refused_topics?: RefusedTopic[];
  topics?: string[];
  /** slow_consumer: throttle | disconnect. */
  action?: string;
  topic?: string;
  queue_depth?: number;
  queue_limit?: number;
  reconnect_after_ms?: number;
}
