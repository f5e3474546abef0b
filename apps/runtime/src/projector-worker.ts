import { createEventStore } from '@khala/eventstore';
import { APP_ROLES, assertSchemaCurrent, createLogger, Database, loadEnv } from '@khala/platform';
import { RetentionJob } from '@khala/projections';
import { createRuntimeRunners } from './projections/runtime-projections';
import { ProjectorWorkerEnv } from './projector-worker.env';

/**
 * Runtime's projectors alone, without HTTP: for a deployment that runs them apart from the API, and
 * for the crash test that SIGKILLs this process mid-batch. Needs DATABASE_URL (a real Postgres:
 * leases are advisory locks, and embedded PGlite is single-process). Several may run at once; the
 * lease keeps one active per projection.
 *
 * Env: runtime's, plus the worker's own keys (ProjectorWorkerEnv).
 */
async function main(): Promise<void> {
  const env = loadEnv(ProjectorWorkerEnv);
  const url = env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const db = await Database.connect({ url, role: APP_ROLES.runtime, applicationName: 'khala-projector-worker' });
  await assertSchemaCurrent(db);
  const logger = createLogger('projector-worker', env.LOG_LEVEL);
  const store = createEventStore({ eventStoreUrl: env.EVENTSTORE_URL, database: db, pollIntervalMs: env.POLL_INTERVAL_MS });
  const runners = createRuntimeRunners(store, db, logger, {
    maxBatchSize: env.PROJECTOR_BATCH_SIZE,
    leaseRetryMs: 200,
    onCommit:
      env.PROJECTOR_REPORT_COMMITS === '1'
        ? (info) => process.stdout.write(`${JSON.stringify({ commit: info.projection, events: info.events, prepare: info.position.prepare.toString() })}\n`)
        : undefined,
  });
  const retention = env.PROJECTOR_RETENTION === 'on' ? new RetentionJob(db, logger) : undefined;
  for (const runner of runners) runner.start();
  retention?.start();
  process.stdout.write(`${JSON.stringify({ started: runners.map((runner) => runner.projection.name), pid: process.pid })}\n`);

  const shutdown = async () => {
    await retention?.stop();
    await Promise.all(runners.map((runner) => runner.stop()));
    await db.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((error: Error) => {
  process.stderr.write(`projector worker failed to start: ${error.message}\n`);
  process.exit(1);
});
