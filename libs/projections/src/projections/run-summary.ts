/** The run summary document (topic runtime.run_summaries), folded purely from run events. */
export interface RunSummaryDocument {
  run_id: string;
  org_id: string;
  status: string;
  thread_id: string | null;
  metadata: Record<string, unknown>;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface RunEventLike {
  type: string;
  data: Record<string, unknown>;
}

/** Returns the next document, or the same object when the event does not change the summary. */
export function evolveRunSummary(summary: RunSummaryDocument | undefined, event: RunEventLike): RunSummaryDocument | undefined {
  const data = event.data;
  switch (event.type) {
    case 'RunCreated':
      return {
        run_id: String(data.run_id),
        org_id: String(data.org_id),
        status: 'created',
        thread_id: typeof data.thread_id === 'string' ? data.thread_id : null,
        metadata: (data.metadata as Record<string, unknown> | undefined) ?? {},
        created_by: String(data.created_by),
        created_at: String(data.occurred_at),
        updated_at: String(data.occurred_at),
      };
    default:
      return summary;
  }
}
