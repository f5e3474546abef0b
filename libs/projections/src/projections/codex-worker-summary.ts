/**
 * The codex worker summary document (topic runtime.codex_worker_summaries, proto
 * CodexWorkerSummary without `revision`, which doc_version carries, and without
 * `heartbeat_freshness`, which depends on the clock and is computed when served).
 */
export interface CodexWorkerSummaryDocument {
  worker_id: string;
  org_id: string;
  /** starting | running | stopping | stopped | failed (api.md). */
  status: string;
  workspace_ref: string;
  adapter: string;
  started_by_user_id: string;
  created_at: string;
  updated_at: string;
  last_heartbeat_at: string | null;
  last_event_type: string | null;
  event_count: number;
  stop_reason: string | null;
  error_code: string | null;
  error_message: string | null;
}

export interface WorkerEventLike {
  type: string;
  data: Record<string, unknown>;
}

const FINISHED = new Set(['stopped', 'failed']);
const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** Returns the next document, or the same object when the event does not change the summary. */
export function evolveCodexWorkerSummary(
  summary: CodexWorkerSummaryDocument | undefined,
  event: WorkerEventLike,
): CodexWorkerSummaryDocument | undefined {
  const data = event.data;
  const occurredAt = String(data.occurred_at);
  if (event.type === 'CodexWorkerStarted') {
    return {
      worker_id: String(data.worker_id),
      org_id: String(data.org_id),
      status: 'starting',
      workspace_ref: String(data.workspace_ref ?? ''),
      adapter: String(data.adapter ?? ''),
      started_by_user_id: String(data.actor_user_id ?? ''),
      created_at: occurredAt,
      updated_at: occurredAt,
      last_heartbeat_at: null,
      last_event_type: null,
      event_count: 0,
      stop_reason: null,
      error_code: null,
      error_message: null,
    };
  }
  if (!summary) return summary;
  const next = { ...summary, updated_at: occurredAt };
  switch (event.type) {
    case 'CodexWorkerEventRecorded':
      return {
        ...next,
        status: summary.status === 'starting' ? 'running' : summary.status,
        last_event_type: text(data.event_type),
        event_count: summary.event_count + 1,
      };
    case 'CodexWorkerHeartbeatRecorded':
      return { ...next, last_heartbeat_at: occurredAt };
    case 'CodexWorkerStopRequested':
      return FINISHED.has(summary.status) ? next : { ...next, status: 'stopping', stop_reason: text(data.reason) };
    case 'CodexWorkerStopped':
      return { ...next, status: 'stopped', stop_reason: text(data.reason) ?? summary.stop_reason };
    case 'CodexWorkerFailed':
      return { ...next, status: 'failed', error_code: text(data.error_code), error_message: text(data.error_message) };
    default:
      return summary;
  }
}
