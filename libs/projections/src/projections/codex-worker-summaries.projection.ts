import { ProjectionOverrides } from '../projection';
import { RecordedEvent } from '@khala/eventstore';
import { requireText } from '../projections.error';
import { SummaryProjection } from '../summary-projection';
import { CodexWorkerSummaryDocument, evolveCodexWorkerSummary } from './codex-worker-summary';

import { CODEX_WORKER_SUMMARIES_TOPIC } from '@khala/contracts/sync';

export { CODEX_WORKER_SUMMARIES_TOPIC };

/** The worker id of a worker event: its data's worker_id, else the stream name (`codexWorker-<id>`). */
export function workerIdOf(event: RecordedEvent): string {
  const id = event.data.worker_id;
  return typeof id === 'string' && id !== '' ? id : event.stream.slice('codexWorker-'.length);
}

/** runtime.codex_worker_summaries: one document per worker (doc_key codex_worker_summary:<worker_id>). */
export class CodexWorkerSummariesProjection extends SummaryProjection<CodexWorkerSummaryDocument> {
  constructor(overrides: ProjectionOverrides = {}) {
    super({
      name: 'codex_worker_summaries',
      version: 1,
      filter: { streamPrefixes: ['codexWorker-'] },
      failurePolicy: 'continue',
      topic: CODEX_WORKER_SUMMARIES_TOPIC,
      table: 'runtime.codex_worker_summaries',
      idColumn: 'worker_id',
      docKeyPrefix: 'codex_worker_summary',
      entityId: workerIdOf,
      evolve: (document, event) => {
        if (event.type === 'CodexWorkerStarted') {
          requireText(event.data, 'org_id', event.type);
          requireText(event.data, 'occurred_at', event.type);
        }
        return evolveCodexWorkerSummary(document, event);
      },
      ...overrides,
    });
  }
}
