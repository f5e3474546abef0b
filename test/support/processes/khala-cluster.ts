import { KeyRing } from '@khala/auth';
import { Database, migrateUp } from '@khala/platform';
import { AppProcess, startApp } from './app-process';

export interface KhalaCluster {
  keys: KeyRing;
  /** Environment every process of the cluster gets (database, keys, event store). */
  env: Record<string, string>;
  runtime: AppProcess;
  /** Runtime's projectors, in a process of their own (RUNTIME_PROJECTORS=off on the API). */
  projector: AppProcess;
  gateways: AppProcess[];
  startProjector(): Promise<AppProcess>;
  startGateway(): Promise<AppProcess>;
  /** SIGTERM (then SIGKILL) to every process still running. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  databaseUrl: string;
  /** esdb:// URL: the EventStoreDB adapter instead of the Postgres event store. */
  eventStoreUrl?: string;
  gateways?: number;
  env?: Record<string, string>;
}

/**
 * Runtime API, runtime's projector worker and khala-gateway(s) as separate real processes on one
 * database (migrated first: the apps refuse a database that is behind), each on a free port.
 */
export async function startKhalaCluster(options: ClusterOptions): Promise<KhalaCluster> {
  const admin = await Database.connect({ url: options.databaseUrl, max: 1 });
  try {
    await migrateUp(admin);
  } finally {
    await admin.close();
  }
  const keys = KeyRing.generate();
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl,
    AUTH_SIGNING_KEYS: keys.serialize(),
    POLL_INTERVAL_MS: '100',
    ...(options.eventStoreUrl ? { EVENTSTORE_URL: options.eventStoreUrl } : {}),
    ...options.env,
  };
  const started: AppProcess[] = [];
  const track = async (app: Promise<AppProcess>) => {
    const process = await app;
    started.push(process);
    return process;
  };
  const startProjector = () => track(startApp('projector-worker', env));
  const startGateway = () => track(startApp('gateway', { ...env, KHALA_PORT: '0' }));
  try {
    const [runtime, projector, ...gateways] = await Promise.all([
      track(startApp('runtime', { ...env, RUNTIME_PORT: '0', RUNTIME_PROJECTORS: 'off' })),
      startProjector(),
      ...Array.from({ length: options.gateways ?? 1 }, () => startGateway()),
    ]);
    return {
      keys,
      env,
      runtime,
      projector,
      gateways,
      startProjector,
      startGateway,
      async stop() {
        await Promise.all(started.map((app) => app.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((app) => app.kill()));
    throw error;
  }
}
