/** sync:v1 wire types (khala-protocol.md §4, §5, §7), as the client sees them. */
export interface Update {
  topic: string;
  doc_key: string;
  doc_version: number;
  /** The document; null in pointer mode (hydration_required), fetch it over HTTP then. */
  payload: unknown;
  payload_hash: string;
  watermark: number;
  hydration_required: boolean;
}

export interface TopicWatermark {
  topic: string;
  watermark: number;
}

export interface UpdateBatch {
  updates: Update[];
  replay_complete: boolean;
  head_watermarks: TopicWatermark[];
}

/** A topic of a subscribe the server did not subscribe (§4), with its code (forbidden_topic...). */
export interface RefusedTopic {
  topic: string;
  code: string;
  message: string;
}

/** sync:subscribe ok reply. */
export interface SubscribeReply {
  subscription_id: string;
  /** The requested topics that are subscribed. */
  topics: string[];
  current_watermarks: TopicWatermark[];
  /** Per subscribed topic, the first watermark still retained: a topic without a cursor starts after retained_from - 1. */
  retained_from?: TopicWatermark[];
  refused_topics?: RefusedTopic[];
  request_id?: string;
}

export interface StaleTopic {
  topic: string;
  /** cursor_missing: no cursor on a topic with a snapshot source (a new client starts from the snapshot). */
  reason: 'retention_floor_breach' | 'replay_budget_exceeded' | 'cursor_missing';
  qos_tier: string;
  resume_after: number;
  retention_floor: number;
  head_watermark: number;
  replay_lag: number;
  replay_budget_events: number;
}

export interface SyncErrorPayload {
  code: string;
  message?: string;
  full_resync_required?: boolean;
  reason_codes?: string[];
  stale_topics?: StaleTopic[];
  snapshot_plan?: { format: string; topics: { topic: string; head_watermark: number; snapshot_url: string }[] };
  forbidden_topics?: string[];
  refused_topics?: RefusedTopic[];
  /** The topic an error is about (forbidden_topic, resubscribe_limit, slow_consumer). */
  topic?: string;
  /** bad_subscription: topics whose cursor is ahead of the head. */
  topics?: string[];
  retry_after_ms?: number;
  reauth_required?: boolean;
  reason?: string;
  action?: 'throttle' | 'disconnect';
  reconnect_after_ms?: number;
}

export interface SnapshotDocument {
  doc_key: string;
  doc_version: number;
  payload: unknown;
  payload_hash: string;
}

export interface SnapshotPage {
  topic: string;
  watermark: number;
  documents: SnapshotDocument[];
  next_page_token?: string | null;
}

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];
