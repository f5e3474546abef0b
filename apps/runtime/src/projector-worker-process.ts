import { createEventStore, EsdbEventStore, registerEsdbMetrics } from '@khala/eventstore';
import { APP_ROLES, assertSchemaCurrent, createLogger, createMetricsRegistry, Database, observePool } from '@khala/platform';
import { startTracing } from '@khala/platform/tracing/tracing';
import type { Registry } from 'prom-client';
import { ProjectorRunner, RetentionJob } from '@khala/projections';
import { createRuntimeRunners } from './projections/runtime-projections';
import { ProjectorWorkerEnv } from './projector-worker.env';
import { serveWorkerHttp, WorkerHttp } from './projector-worker-http';

/** The `app` label of the worker's series and the `app` field of its log lines. */
export const PROJECTOR_WORKER_APP = 'projector-worker';

export interface ProjectorWorker {
  runners: ProjectorRunner[];
  /** Its registry (app="projector-worker"), served on /metrics. */
  metrics: Registry;
  /** Where /metrics and /health/* are served. */
  http: WorkerHttp;
  stop(): Promise<void>;
}

/**
 * Runtime's projectors (and, when asked, the retention job) with their own pool, registry and the
 * small HTTP listener for /metrics and health. The entry (projector-worker.ts) owns the signals;
 * tests start one in-process.
 */
export async function startProjectorWorker(env: ProjectorWorkerEnv, listen: { httpPort: number; host: string }): Promise<ProjectorWorker> {
  const url = env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const db = await Database.connect({ url, role: APP_ROLES.runtime, applicationName: 'khala-projector-worker' });
  await assertSchemaCurrent(db);
  const logger = createLogger(PROJECTOR_WORKER_APP, env.LOG_LEVEL);
  // Its projector batch spans (PlatformModule starts tracing for the Nest apps; the worker is none).
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) startTracing({ endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: `khala-${PROJECTOR_WORKER_APP}` });
  const metrics = createMetricsRegistry(PROJECTOR_WORKER_APP);
  observePool(metrics, 'worker', db.pool);
  const store = createEventStore({ eventStoreUrl: env.EVENTSTORE_URL, database: db, pollIntervalMs: env.POLL_INTERVAL_MS });
  if (store instanceof EsdbEventStore) registerEsdbMetrics(store, metrics);
  const runners = createRuntimeRunners(store, db, logger, {
    maxBatchSize: env.PROJECTOR_BATCH_SIZE,
    leaseRetryMs: 200,
    metrics,
    onCommit:
      env.PROJECTOR_REPORT_COMMITS === '1'
        ? (info) => process.stdout.write(`${JSON.stringify({ commit: info.projection, events: info.events, prepare: info.position.prepare.toString() })}\n`)
        : undefined,
  });
  const retention = env.PROJECTOR_RETENTION === 'on' ? new RetentionJob(db, logger) : undefined;
  const http = await serveWorkerHttp(
    metrics,
    async () => {
      const database = await db.query('select 1').then(
        () => ({ up: true }),
        (error: Error) => ({ up: false, message: error.message }),
      );
      // As runtime's `projectors` check: down when a projection halted on a poison event or stalled.
      const statuses = runners.map((runner) => runner.status());
      const unhealthy = statuses.filter((status) => status.state === 'failed' || status.stalled);
      return {
        up: database.up && unhealthy.length === 0,
        details: {
          database,
          projectors: Object.fromEntries(statuses.map((status) => [status.projection, { state: status.state, leader: status.leader, stalled: status.stalled }])),
        },
      };
    },
    listen.httpPort,
    listen.host,
  ).catch(async (error: Error) => {
    await db.close();
    throw error;
  });
  for (const runner of runners) runner.start();
  retention?.start();
  return {
    runners,
    metrics,
    http,
    stop: async () => {
      await retention?.stop();
      await Promise.all(runners.map((runner) => runner.stop()));
      await http.close();
      await db.close();
    },
  };
}
