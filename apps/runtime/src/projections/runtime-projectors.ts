import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { Database, DATABASE, LOGGER, ReadinessRegistry } from '@khala/platform';
import { ProjectorRunner, RunSummariesProjection } from '@khala/projections';

/** Runs runtime's projectors inside the runtime process (they can also run alone, via the CLI). */
@Injectable()
export class RuntimeProjectors implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly runners: ProjectorRunner[];

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(DATABASE) db: Database,
    @Inject(LOGGER) logger: Logger,
    readiness: ReadinessRegistry,
  ) {
    this.runners = [new ProjectorRunner(store, db, new RunSummariesProjection(), logger)];
    readiness.register({
      name: 'projectors',
      check: async () => {
        const failed = this.runners.filter((runner) => runner.state === 'failed');
        return { up: failed.length === 0, details: { failed: failed.map((runner) => runner.lastError) } };
      },
    });
  }

  onApplicationBootstrap(): void {
    for (const runner of this.runners) runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }
}
