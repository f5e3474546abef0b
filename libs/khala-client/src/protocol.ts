import type { RefusedTopic, TopicWatermark } from '@khala/contracts/sync';

/**
 * sync:v1 wire types (khala-protocol.md §4, §5, §7), as the client sees them. The error types
 * (SyncErrorPayload, StaleTopic, RefusedTopic) and the frame tuple are the contract's, generated
 * from proto/openagents/sync; they are re-exported here for the SDK's users.
 */
export type { Frame, RefusedTopic, SnapshotPlan, SnapshotPlanTopic, StaleReason, StaleTopic, SyncErrorPayload, TopicWatermark } from '@khala/contracts/sync';

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

export interface UpdateBatch {
  updates: Update[];
  replay_complete: boolean;
  head_watermarks: TopicWatermark[];
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
