import type { Logger } from 'pino';
import { EventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import {
  CodexWorkerEventsProjection,
  CodexWorkerSummariesProjection,
  Projection,
  ProjectorOptions,
  ProjectorRunner,
  RunEventsProjection,
  RunSummariesProjection,
  TableProjection,
  TableProjectionFactory,
} from '@khala/projections';

/**
 * Runtime's projections, the one list of them: the runtime process, the projector worker and the
 * operator CLI (status, rebuild, replay) all take them from here. Each builds into its live table,
 * or with overrides into a shadow or scratch table.
 */
export const RUNTIME_PROJECTIONS: readonly TableProjectionFactory[] = [
  (overrides) => new RunSummariesProjection(overrides) as unknown as TableProjection,
  (overrides) => new RunEventsProjection(overrides),
  (overrides) => new CodexWorkerSummariesProjection(overrides) as unknown as TableProjection,
  (overrides) => new CodexWorkerEventsProjection(overrides),
];

export function runtimeProjections(): Projection[] {
  return RUNTIME_PROJECTIONS.map((build) => build());
}

export function createRuntimeRunners(store: EventStore, db: Database, logger: Logger, options: ProjectorOptions = {}): ProjectorRunner[] {
  return runtimeProjections().map((projection) => new ProjectorRunner(store, db, projection, logger, options));
}
