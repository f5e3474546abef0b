import 'reflect-metadata';
import { KeyRing } from '@khala/auth';
import { createHttpApp, listenOn, loadEnv } from '@khala/platform';
import { RuntimeModule } from './runtime.module';
import { RuntimeEnv } from './runtime.env';

/** Runtime alone (INV-08): needs DATABASE_URL and AUTH_SIGNING_KEYS. */
async function main() {
  const env = loadEnv(RuntimeEnv);
  if (!env.AUTH_SIGNING_KEYS) throw new Error('AUTH_SIGNING_KEYS is required when runtime runs alone');
  const app = await createHttpApp(RuntimeModule.forRoot({ env, keys: KeyRing.parse(env.AUTH_SIGNING_KEYS) }), {
    title: 'Khala runtime',
    bodyLimitBytes: 16 * 1024 * 1024,
  });
  const url = await listenOn(app, env.RUNTIME_PORT, env.HOST);
  process.stdout.write(`runtime listening on ${url}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`runtime failed to start: ${error.message}\n`);
  process.exit(1);
});
