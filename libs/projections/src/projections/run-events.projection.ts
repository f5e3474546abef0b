import { ProjectionOverrides } from '../projection';
import { EventLogProjection } from '../event-log-projection';
import { runIdOf } from './run-summaries.projection';

import { RUN_EVENTS_TOPIC, runEventsTopic } from '@khala/contracts/sync';

export { RUN_EVENTS_TOPIC, runEventsTopic };

/**
 * runtime.run_events: every run event as document run_event:<run_id>:<seq>, journaled on the
 * org's runtime.run_events sequence and on the run's own run:<run_id>:events sequence.
 */
export class RunEventsProjection extends EventLogProjection {
  constructor(overrides: ProjectionOverrides = {}) {
    super({
      name: 'run_events',
      version: 1,
      filter: { streamPrefixes: ['run-'] },
      failurePolicy: 'continue',
      table: 'runtime.run_events',
      idColumn: 'run_id',
      idField: 'run_id',
      classTopic: RUN_EVENTS_TOPIC,
      entityTopic: runEventsTopic,
      docKeyPrefix: 'run_event',
      entityId: runIdOf,
      include: () => true,
      ...overrides,
    });
  }
}
