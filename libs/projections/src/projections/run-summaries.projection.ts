import { ProjectionOverrides } from '../projection';
import { RecordedEvent } from '@khala/eventstore';
import { requireText } from '../projections.error';
import { SummaryProjection } from '../summary-projection';
import { evolveRunSummary, RunSummaryDocument } from './run-summary';

import { RUN_SUMMARIES_TOPIC } from '@khala/contracts/sync';

export { RUN_SUMMARIES_TOPIC };

/** The run id of a run event: its data's run_id, else the stream name (`run-<id>`). */
export function runIdOf(event: RecordedEvent): string {
  const id = event.data.run_id;
  return typeof id === 'string' && id !== '' ? id : event.stream.slice('run-'.length);
}

/**
 * runtime.run_summaries: one document per run (doc_key run_summary:<run_id>), one journal row per
 * batch in which its content changed, on the (runtime.run_summaries, org) watermark sequence.
 */
export class RunSummariesProjection extends SummaryProjection<RunSummaryDocument> {
  constructor(overrides: ProjectionOverrides = {}) {
    super({
      name: 'run_summaries',
      version: 1,
      filter: { streamPrefixes: ['run-'] },
      failurePolicy: 'continue',
      topic: RUN_SUMMARIES_TOPIC,
      table: 'runtime.run_summaries',
      idColumn: 'run_id',
      docKeyPrefix: 'run_summary',
      entityId: runIdOf,
      evolve: (document, event) => {
        if (event.type === 'RunCreated') {
          // A summary that cannot be placed in an org must never reach a journal.
          requireText(event.data, 'org_id', event.type);
          requireText(event.data, 'occurred_at', event.type);
        }
        return evolveRunSummary(document, event);
      },
      ...overrides,
    });
  }
}
