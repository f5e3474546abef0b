import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createEventStore, EventStore } from '@khala/eventstore';
import { APP_ROLES, Database, LOGGER, METRICS_REGISTRY, observePool, ReadinessRegistry, ShutdownDrain } from '@khala/platform';
import { ProjectorRunner, RetentionJob } from '@khala/projections';
import { RuntimeEnv } from '../runtime.env';
import { createRuntimeRunners } from './runtime-projections';

/** The in-process projectors' own connections: a pool apart from the request pool, and its store. */
export const PROJECTOR_CONNECTIONS = Symbol('PROJECTOR_CONNECTIONS');
export interface ProjectorConnections {
  db: Database;
  store: EventStore;
}

/**
 * Projectors read the event store and write read models through their own pool. Sharing the request
 * pool made them queue behind HTTP commands under load (delivery latency grew with command rate).
 * On EventStoreDB the request store is reused: only Postgres connections are pooled here.
 */
export async function connectProjectors(env: RuntimeEnv, requestStore: EventStore): Promise<ProjectorConnections> {
  const url = env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (the embedded entry point sets it for you)');
  const db = await Database.connect({
    url,
    role: APP_ROLES.runtime,
    max: env.RUNTIME_PROJECTOR_POOL_MAX,
    applicationName: 'khala-runtime-projectors',
  });
  const store = env.EVENTSTORE_URL
    ? requestStore
    : createEventStore({ database: db, pollIntervalMs: env.POLL_INTERVAL_MS });
  return { db, store };
}

/**
 * Runs runtime's projectors and the journal retention job inside the runtime process (they can
 * also run alone: src/projector-worker.ts). Every runtime instance starts them; the lease makes
 * one instance per projection active and the others stand by.
 */
@Injectable()
export class RuntimeProjectors implements OnApplicationBootstrap {
  readonly runners: ProjectorRunner[];
  readonly retention: RetentionJob;

  private readonly connections: ProjectorConnections;

  constructor(
    @Inject(PROJECTOR_CONNECTIONS) connections: ProjectorConnections,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
    readiness: ReadinessRegistry,
    drain: ShutdownDrain,
  ) {
    this.connections = connections;
    const { store, db } = connections;
    observePool(metrics, 'projectors', db.pool);
    this.runners = createRuntimeRunners(store, db, logger, { metrics });
    this.retention = new RetentionJob(db, logger);
    drain.onStop({ name: 'runtime-projectors', run: () => this.stop() });
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

  /**
   * At shutdown, once HTTP has drained (an in-flight read-your-writes request waits for these
   * projectors): each finishes the batch in hand and releases its lease, so a standby takes over now.
   */
  async stop(): Promise<void> {
    await this.retention.stop();
    await Promise.all(this.runners.map((runner) => runner.stop()));
    await this.connections.db.close();
  }
}
