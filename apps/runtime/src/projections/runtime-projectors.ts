import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { EVENT_STORE, EventStore } from '@khala/eventstore';
import { Database, DATABASE, LOGGER, METRICS_REGISTRY, ReadinessRegistry } from '@khala/platform';
import { ProjectorRunner, RetentionJob } from '@khala/projections';
import { createRuntimeRunners } from './runtime-projections';

/**
 * Runs runtime's projectors and the journal retention job inside the runtime process (they can
 * also run alone: src/projector-worker.ts). Every runtime instance starts them; the lease makes
 * one instance per projection active and the others stand by.
 */
@Injectable()
export class RuntimeProjectors implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly runners: ProjectorRunner[];
  readonly retention: RetentionJob;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(DATABASE) db: Database,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
    readiness: ReadinessRegistry,
  ) {
    this.runners = createRuntimeRunners(store, db, logger, { metrics });
    this.retention = new RetentionJob(db, logger);
    readiness.register({
      name: 'projectors',
      check: async () => {
        const statuses = this.runners.map((runner) => runner.status());
        // Down when a projection halted on a poison event, or has a backlog that has not drained for 120 s.
        const unhealthy = statuses.filter((status) => status.state === 'failed' || status.stalled);
        return {
          up: unhealthy.length === 0,
          details: Object.fromEntries(
            statuses.map((status) => [
              status.projection,
              {
                state: status.state,
                leader: status.leader,
                lag_events: status.lagEvents,
                lag_seconds: Math.round(status.lagSeconds),
                parked: status.parked,
                ...(status.stalled ? { degraded: 'backlog has not drained for 120 s' } : {}),
                ...(status.state === 'failed' ? { error: status.lastError } : {}),
              },
            ]),
          ),
        };
      },
    });
  }

  onApplicationBootstrap(): void {
    for (const runner of this.runners) runner.start();
    this.retention.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.retention.stop();
    await Promise.all(this.runners.map((runner) => runner.stop()));
  }
}
