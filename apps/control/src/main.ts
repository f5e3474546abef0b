import 'reflect-metadata';
import { KeyRing } from '@khala/auth';
import { createHttpApp, listenOn, loadEnv } from '@khala/platform';
import { ControlEnv } from './control.env';
import { ControlModule } from './control.module';

/** control alone (INV-08): needs DATABASE_URL and AUTH_SIGNING_KEYS. */
async function main() {
  const env = loadEnv(ControlEnv);
  if (!env.AUTH_SIGNING_KEYS) throw new Error('AUTH_SIGNING_KEYS is required when control runs alone');
  const app = await createHttpApp(ControlModule.forRoot({ env, keys: KeyRing.parse(env.AUTH_SIGNING_KEYS) }), {
    title: 'Khala control',
  });
  const url = await listenOn(app, env.CONTROL_PORT, env.HOST);
  process.stdout.write(`control listening on ${url}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`control failed to start: ${error.message}\n`);
  process.exit(1);
});
