import 'reflect-metadata';
import { redactDatabaseUrl } from '@khala/platform';
import { startSystem } from './embedded';

async function main() {
  const system = await startSystem();
  const { control, runtime, gateway } = system.urls;
  process.stdout.write(
    [
      '',
      'Khala is running (control, runtime and khala-gateway in one process)',
      `  database  ${process.env.DATABASE_URL ? redactDatabaseUrl(system.databaseUrl) : `embedded PGlite in ${process.env.DATA_DIR ?? '.data'}/pglite`}`,
      `  control   ${control}   (OpenAPI ${control}/docs)`,
      `  runtime   ${runtime}   (OpenAPI ${runtime}/docs)`,
      `  gateway   ${gateway}   (WebSocket ${gateway.replace('http', 'ws')}/sync/socket/websocket)`,
      `  health    ${runtime}/health/ready   metrics ${runtime}/metrics`,
      '',
      'Get a token:',
      `  curl -s -X POST ${control}/api/auth/signup -H 'content-type: application/json' \\`,
      `    -d '{"email":"me@example.com","password":"correct horse battery","name":"Me"}'`,
      'then use its access_token:',
      `  curl -s -X POST ${runtime}/api/runtime/runs -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}'`,
      `  curl -s -X POST ${control}/api/sync/token -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}'`,
      `  (the sync token opens ${gateway.replace('http', 'ws')}/sync/socket/websocket?token=<sync token>&vsn=2.0.0)`,
      '',
    ].join('\n'),
  );
  const shutdown = () => {
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: Error) => {
  process.stderr.write(`khala failed to start: ${error.message}\n`);
  process.exit(1);
});
