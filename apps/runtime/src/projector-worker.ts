import { loadEnv } from '@khala/platform';
import { ProjectorWorkerEnv } from './projector-worker.env';
import { startProjectorWorker } from './projector-worker-process';

/**
 * Runtime's projectors alone, without the API: for a deployment that runs them apart from it, and
 * for the crash test that SIGKILLs this process mid-batch. Needs DATABASE_URL (a real Postgres:
 * leases are advisory locks, and embedded PGlite is single-process). Several may run at once; the
 * lease keeps one active per projection. Serves /metrics and /health/{live,ready} on
 * PROJECTOR_WORKER_PORT.
 *
 * Env: runtime's, plus the worker's own keys (ProjectorWorkerEnv).
 */
async function main(): Promise<void> {
  const env = loadEnv(ProjectorWorkerEnv);
  if (!(env.RUNTIME_DATABASE_URL ?? env.DATABASE_URL)) throw new Error('DATABASE_URL is required');
  const worker = await startProjectorWorker(env, { httpPort: env.PROJECTOR_WORKER_PORT, host: env.HOST });
  process.stdout.write(`${JSON.stringify({ started: worker.runners.map((runner) => runner.projection.name), pid: process.pid, http: worker.http.url })}\n`);

  const shutdown = async () => {
    await worker.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((error: Error) => {
  process.stderr.write(`projector worker failed to start: ${error.message}\n`);
  process.exit(1);
});
