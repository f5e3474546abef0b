import { ProjectionOverrides } from '../projection';
import { EventLogProjection } from '../event-log-projection';
import { workerIdOf } from './codex-worker-summaries.projection';

import { CODEX_WORKER_EVENTS_TOPIC, workerEventsTopic } from '@khala/contracts/sync';

export { CODEX_WORKER_EVENTS_TOPIC, workerEventsTopic };

/**
 * runtime.codex_worker_events: the worker stream's events as documents
 * codex_worker_event:<worker_id>:<seq>, on the org's class sequence and the worker's own
 * worker:<worker_id>:events sequence. Heartbeats are left out: they would flood a 1-day, 3,000-event
 * replay budget, and the summary already carries last_heartbeat_at.
 */
export class CodexWorkerEventsProjection extends EventLogProjection {
  constructor(overrides: ProjectionOverrides = {}) {
    super({
      name: 'codex_worker_events',
      version: 1,
      filter: { streamPrefixes: ['codexWorker-'] },
      failurePolicy: 'continue',
      table: 'runtime.codex_worker_events',
      idColumn: 'worker_id',
      idField: 'worker_id',
      classTopic: CODEX_WORKER_EVENTS_TOPIC,
      entityTopic: workerEventsTopic,
      docKeyPrefix: 'codex_worker_event',
      entityId: workerIdOf,
      include: (event) => event.type !== 'CodexWorkerHeartbeatRecorded',
      ...overrides,
    });
  }
}
