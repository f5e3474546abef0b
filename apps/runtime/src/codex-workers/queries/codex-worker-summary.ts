import { RecordedEvent } from '@khala/eventstore';
import { CodexWorkerSummaryDocument, evolveCodexWorkerSummary } from '@khala/projections';
import { heartbeatFreshness, HeartbeatFreshness } from '../domain/codex-worker.decider';

/**
 * proto CodexWorkerSummary as the snapshot route serves it: the projection's document (one fold,
 * shared with runtime.codex_worker_summaries) plus the stream revision and the heartbeat freshness,
 * which depends on the clock and is computed when served.
 */
export interface CodexWorkerSummary extends CodexWorkerSummaryDocument {
  revision: number;
  heartbeat_freshness?: HeartbeatFreshness;
}

export function foldCodexWorkerSummary(summary: CodexWorkerSummary | undefined, event: RecordedEvent): CodexWorkerSummary | undefined {
  const next = evolveCodexWorkerSummary(summary, event);
  return next && { ...next, revision: Number(event.revision) };
}

export function withFreshness(summary: CodexWorkerSummary, now: Date): CodexWorkerSummary {
  return { ...summary, heartbeat_freshness: heartbeatFreshness(summary.last_heartbeat_at ?? undefined, now) };
}
