import 'reflect-metadata';
import { KeyRing } from '@khala/auth';
import { listenOn, loadEnv } from '@khala/platform';
import { createGatewayApp } from './gateway.app';
import { GatewayEnv } from './gateway.env';

/** khala-gateway alone (INV-08): needs DATABASE_URL and AUTH_SIGNING_KEYS. */
async function main() {
  const env = loadEnv(GatewayEnv);
  if (!env.AUTH_SIGNING_KEYS) throw new Error('AUTH_SIGNING_KEYS is required when the gateway runs alone');
  const app = await createGatewayApp(env, KeyRing.parse(env.AUTH_SIGNING_KEYS));
  const url = await listenOn(app, env.KHALA_PORT, env.HOST);
  process.stdout.write(`khala-gateway listening on ${url} (WebSocket ${url.replace('http', 'ws')}/sync/socket/websocket)\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`khala-gateway failed to start: ${error.message}\n`);
  process.exit(1);
});
