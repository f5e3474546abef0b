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

export interface StaleTopic {
  topic: string;
  reason: 'retention_floor_breach' | 'replay_budget_exceeded';
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
