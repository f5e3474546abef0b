import 'reflect-metadata';
import { CommonEnv, loadEnv, redactDatabaseUrl } from '@khala/platform';
import { startSystem } from './embedded';

async function main() {
  const system = await startSystem();
  const env = loadEnv(CommonEnv);
  const { control, runtime, gateway } = system.urls;
  process.stdout.write(
    [
      '',
      'Khala is running (control, runtime and khala-gateway in one process)',
      `  database  ${env.DATABASE_URL ? redactDatabaseUrl(system.databaseUrl) : embeddedDatabaseLine(system.databaseUrl, env.DATA_DIR)}`,
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
      (error: Error) => {
        process.stderr.write(`khala did not stop cleanly: ${error.stack ?? error.message}\n`);
        process.exit(1);
      },
    );
  };
  // This entry owns the process's signals: each Nest app registered its own shutdown hook, and
  // those would close the apps concurrently with stop() (closing them twice) and re-raise the
  // signal, ending the process before PGlite had closed its files and given the directory up.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.once(signal, shutdown);
  }
}

/** Where the embedded PGlite lives and the address `oa` (or psql) uses while this process owns it. */
function embeddedDatabaseLine(url: string, dataDir: string): string {
  if (dataDir === 'memory') return `embedded PGlite in memory, served at ${url}`;
  return `embedded PGlite in ${dataDir}/pglite, served at ${url} (oa works through it while this runs)`;
}

main().catch((error: Error) => {
  process.stderr.write(`khala failed to start: ${error.message}\n`);
  process.exit(1);
});
