import 'reflect-metadata';
import { KeyRing } from '@khala/auth';
import { requestBodyLimitFor } from '@khala/eventstore';
import { createHttpApp, listenOn, loadEnv } from '@khala/platform';
import { RuntimeModule } from './runtime.module';
import { RuntimeEnv } from './runtime.env';

/** Runtime alone (INV-08): needs DATABASE_URL and AUTH_SIGNING_KEYS. */
async function main() {
  const env = loadEnv(RuntimeEnv);
  if (!env.AUTH_SIGNING_KEYS) throw new Error('AUTH_SIGNING_KEYS is required when runtime runs alone');
  const app = await createHttpApp(RuntimeModule.forRoot({ env, keys: KeyRing.parse(env.AUTH_SIGNING_KEYS) }), {
    title: 'Khala runtime',
    // On EventStoreDB a body over its append size limit could never be stored: refused at once (413).
    bodyLimitBytes: requestBodyLimitFor(env.EVENTSTORE_URL, 16 * 1024 * 1024),
  });
  const url = await listenOn(app, env.RUNTIME_PORT, env.HOST);
  process.stdout.write(`runtime listening on ${url}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`runtime failed to start: ${error.message}\n`);
  process.exit(1);
});
