import type { RefusedTopic, TopicWatermark } from './wire-types';

/** sync:v1 message types (docs/protocol/README.md §3, §4, §5), as the client sees them. */
export type { Frame, RefusedTopic, SnapshotPlan, SnapshotPlanTopic, StaleReason, StaleTopic, SyncErrorPayload, TopicWatermark } from './wire-types';

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
