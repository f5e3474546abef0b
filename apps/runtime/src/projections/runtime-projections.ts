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
} from '@khala/projections';

/** Runtime's projections, in one place for the runtime process, the projector worker and tools. */
export function runtimeProjections(): Projection[] {
  return [new RunSummariesProjection(), new RunEventsProjection(), new CodexWorkerSummariesProjection(), new CodexWorkerEventsProjection()];
}

export function createRuntimeRunners(store: EventStore, db: Database, logger: Logger, options: ProjectorOptions = {}): ProjectorRunner[] {
  return runtimeProjections().map((projection) => new ProjectorRunner(store, db, projection, logger, options));
}
