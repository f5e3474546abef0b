import { CodexWorkerStatus, FINISHED_WORKER_STATUSES, heartbeatFreshness, HeartbeatFreshness } from '../domain/codex-worker.decider';

/** proto CodexWorkerSummary as served by the snapshot route (freshness computed when served). */
export interface CodexWorkerSummary {
  worker_id: string;
  org_id: string;
  status: CodexWorkerStatus;
  workspace_ref: string;
  adapter: string;
  started_by_user_id: string;
  created_at: string;
  updated_at: string;
  last_heartbeat_at: string | null;
  heartbeat_freshness?: HeartbeatFreshness;
  last_event_type: string | null;
  event_count: number;
  stop_reason: string | null;
  error_code: string | null;
  error_message: string | null;
  revision: number;
}

export interface WorkerEventRecord {
  type: string;
  data: Record<string, unknown>;
  revision: bigint;
}

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/**
 * Folds a worker stream into its summary. Until the projections issue adds the
 * runtime.codex_worker_summaries read model, the read routes fold the stream with this.
 */
export function evolveCodexWorkerSummary(summary: CodexWorkerSummary | undefined, event: WorkerEventRecord): CodexWorkerSummary | undefined {
  const data = event.data;
  const occurredAt = String(data.occurred_at);
  if (event.type === 'CodexWorkerStarted') {
    return {
      worker_id: String(data.worker_id),
      org_id: String(data.org_id),
      status: 'starting',
      workspace_ref: String(data.workspace_ref ?? ''),
      adapter: String(data.adapter ?? ''),
      started_by_user_id: String(data.actor_user_id),
      created_at: occurredAt,
      updated_at: occurredAt,
      last_heartbeat_at: null,
      last_event_type: null,
      event_count: 0,
      stop_reason: null,
      error_code: null,
      error_message: null,
      revision: Number(event.revision),
    };
  }
  if (!summary) return undefined;
  const next = { ...summary, updated_at: occurredAt, revision: Number(event.revision) };
  switch (event.type) {
    case 'CodexWorkerEventRecorded':
      return {
        ...next,
        status: summary.status === 'starting' ? 'running' : summary.status,
        last_event_type: str(data.event_type),
        event_count: summary.event_count + 1,
      };
    case 'CodexWorkerHeartbeatRecorded':
      return { ...next, last_heartbeat_at: occurredAt };
    case 'CodexWorkerStopRequested':
      return FINISHED_WORKER_STATUSES.has(summary.status) ? next : { ...next, status: 'stopping', stop_reason: str(data.reason) };
    case 'CodexWorkerStopped':
      return { ...next, status: 'stopped', stop_reason: str(data.reason) ?? summary.stop_reason };
    case 'CodexWorkerFailed':
      return { ...next, status: 'failed', error_code: str(data.error_code), error_message: str(data.error_message) };
    default:
      return next;
  }
}

export function withFreshness(summary: CodexWorkerSummary, now: Date): CodexWorkerSummary {
  return { ...summary, heartbeat_freshness: heartbeatFreshness(summary.last_heartbeat_at ?? undefined, now) };
}
