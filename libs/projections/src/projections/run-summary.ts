/**
 * The run summary document (topic runtime.run_summaries, proto RunSummary without `revision`,
 * which doc_version carries), folded purely from run events.
 */
export interface RunSummaryDocument {
  run_id: string;
  org_id: string;
  /** created | running | canceling | succeeded | failed | canceled (api.md). */
  status: string;
  thread_id: string | null;
  metadata: Record<string, unknown>;
  created_by_user_id: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  cancel_reason: string | null;
  /** Payload of the run.failed frame, when the run failed. */
  failure: Record<string, unknown> | null;
  /** Frame events applied (started, deltas, tool calls and results, finished, failed). */
  frame_count: number;
}

export interface RunEventLike {
  type: string;
  data: Record<string, unknown>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

const FRAME_STATUS: Record<string, ((status: string) => string) | undefined> = {
  RunStarted: () => 'running',
  RunTextDelta: (status) => status,
  RunToolCall: (status) => status,
  RunToolResult: (status) => status,
  RunFinished: () => 'succeeded',
  RunFailed: () => 'failed',
};

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** Returns the next document, or the same object when the event does not change the summary. */
export function evolveRunSummary(summary: RunSummaryDocument | undefined, event: RunEventLike): RunSummaryDocument | undefined {
  const data = event.data;
  if (event.type === 'RunCreated') {
    return {
      run_id: String(data.run_id),
      org_id: String(data.org_id),
      status: 'created',
      thread_id: text(data.thread_id),
      metadata: (data.metadata as Record<string, unknown> | undefined) ?? {},
      // created_by: the field's name before the proto contract (events stored by the thin path).
      created_by_user_id: String(data.actor_user_id ?? data.created_by),
      created_at: String(data.occurred_at),
      updated_at: String(data.occurred_at),
      started_at: null,
      finished_at: null,
      cancel_reason: null,
      failure: null,
      frame_count: 0,
    };
  }
  if (!summary) return summary;
  const occurredAt = String(data.occurred_at);
  const nextStatus = FRAME_STATUS[event.type];
  if (nextStatus) {
    const status = nextStatus(summary.status);
    return {
      ...summary,
      // A terminal frame while canceling is followed by RunCanceled, which sets the final status.
      status,
      updated_at: occurredAt,
      frame_count: summary.frame_count + 1,
      ...(event.type === 'RunStarted' ? { started_at: occurredAt } : {}),
      ...(TERMINAL.has(status) && status !== summary.status ? { finished_at: occurredAt } : {}),
      ...(event.type === 'RunFailed' ? { failure: (data.payload as Record<string, unknown> | undefined) ?? {} } : {}),
    };
  }
  switch (event.type) {
    case 'RunCancelRequested':
      if (TERMINAL.has(summary.status)) return summary;
      return { ...summary, status: 'canceling', cancel_reason: text(data.reason), updated_at: occurredAt };
    case 'RunCanceled':
      return {
        ...summary,
        status: 'canceled',
        cancel_reason: text(data.reason) ?? summary.cancel_reason,
        finished_at: occurredAt,
        updated_at: occurredAt,
      };
    default:
      return summary;
  }
}
