import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, EventStoreError } from '@khala/eventstore';
import { resolveCodexWorkerStream } from '../codex-worker-streams';
import { CodexWorkerSummary, foldCodexWorkerSummary, withFreshness } from './codex-worker-summary';

/**
 * One worker's summary folded from its stream: the authority, current as of the request (the
 * list route reads the runtime.codex_worker_summaries read model instead, which may lag).
 */
@Injectable()
export class CodexWorkerSnapshotsReader {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /** undefined when the worker does not exist or belongs to another org. */
  async snapshot(orgId: string, workerId: string, now = new Date()): Promise<CodexWorkerSummary | undefined> {
    let summary: CodexWorkerSummary | undefined;
    try {
      for await (const event of this.store.readStream(await resolveCodexWorkerStream(this.store, orgId, workerId))) {
        summary = foldCodexWorkerSummary(summary, event);
      }
    } catch (error) {
      if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
    }
    return summary && summary.org_id === orgId ? withFreshness(summary, now) : undefined;
  }
}
