import { INestApplication } from '@nestjs/common';
import { KeyRing } from '@khala/auth';
import {
  createHttpApp,
  Database,
  EmbeddedPostgres,
  listenOn,
  loadEnv,
  migrateUp,
  startEmbeddedPostgres,
} from '@khala/platform';
import { join } from 'node:path';
import { ControlEnv } from '../../control/src/control.env';
import { ControlModule } from '../../control/src/control.module';
import { createGatewayApp } from '../../khala-gateway/src/gateway.app';
import { GatewayEnv } from '../../khala-gateway/src/gateway.env';
import { RuntimeEnv } from '../../runtime/src/runtime.env';
import { RuntimeModule } from '../../runtime/src/runtime.module';

export interface RunningSystem {
  urls: { control: string; runtime: string; gateway: string };
  databaseUrl: string;
  keys: KeyRing;
  stop(): Promise<void>;
}

/**
 * All three apps in one process. Without DATABASE_URL it serves PGlite from DATA_DIR, owning that
 * directory until stop() (`oa` works through the served URL meanwhile); either way it migrates
 * first (the standalone apps refuse a database that is behind instead).
 */
export async function startSystem(source: NodeJS.ProcessEnv = process.env): Promise<RunningSystem> {
  const base = loadEnv(ControlEnv, source);
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = base.DATABASE_URL;
  if (!databaseUrl) {
    // Refuses (DataDirectoryError) while another server or an oa command holds the directory.
    embedded = await startEmbeddedPostgres({
      dataDir: base.DATA_DIR === 'memory' ? 'memory' : join(base.DATA_DIR, 'pglite'),
      owner: 'server',
    });
    databaseUrl = embedded.url;
  }
  const apps: INestApplication[] = [];
  try {
    const admin = await Database.connect({ url: databaseUrl, max: 1 });
    try {
      await migrateUp(admin);
    } finally {
      await admin.close();
    }

    const keys = source.AUTH_SIGNING_KEYS
      ? KeyRing.parse(source.AUTH_SIGNING_KEYS)
      : base.DATA_DIR === 'memory'
        ? KeyRing.generate()
        : KeyRing.loadOrCreate(join(base.DATA_DIR, 'auth-keys'));
    const env = { ...source, DATABASE_URL: databaseUrl };
    const controlEnv = loadEnv(ControlEnv, env);
    const control = await createHttpApp(ControlModule.forRoot({ env: controlEnv, keys }), {
      title: 'Khala control',
    });
    apps.push(control);
    const runtimeEnv = loadEnv(RuntimeEnv, env);
    const runtime = await createHttpApp(RuntimeModule.forRoot({ env: runtimeEnv, keys }), {
      title: 'Khala runtime',
      bodyLimitBytes: 16 * 1024 * 1024,
    });
    apps.push(runtime);
    const gatewayEnv = loadEnv(GatewayEnv, env);
    const gateway = await createGatewayApp(gatewayEnv, keys);
    apps.push(gateway);
    const urls = {
      control: await listenOn(control, controlEnv.CONTROL_PORT, controlEnv.HOST),
      runtime: await listenOn(runtime, runtimeEnv.RUNTIME_PORT, runtimeEnv.HOST),
      gateway: await listenOn(gateway, gatewayEnv.KHALA_PORT, gatewayEnv.HOST),
    };
    return {
      urls,
      databaseUrl,
      keys,
      stop: once(() => stopInOrder(apps, embedded)),
    };
  } catch (error) {
    await stopInOrder(apps, embedded).catch(() => undefined);
    throw error;
  }
}

/**
 * Apps first (last started, first closed), then the database they used, which also gives the
 * data directory up. The database is closed even when an app fails to close, so its files are
 * left consistent; the first failure is reported after.
 */
async function stopInOrder(apps: INestApplication[], embedded: EmbeddedPostgres | undefined): Promise<void> {
  let failure: unknown;
  for (const app of [...apps].reverse()) {
    try {
      await app.close();
    } catch (error) {
      failure ??= error;
    }
  }
  await embedded?.stop();
  if (failure !== undefined) throw failure;
}

function once(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= work());
}
