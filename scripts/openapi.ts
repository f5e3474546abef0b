/**
 * `npm run openapi:gen` writes docs/openapi/<app>.json from what the apps serve;
 * `npm run openapi:check` (CI) fails when a committed document differs from it, so a route
 * change cannot land without its document.
 */
import { committedOpenApi, liveOpenApiDocuments, OPENAPI_APPS, serializeOpenApi, writeOpenApi } from './openapi-documents';

async function main(mode: string | undefined) {
  if (mode !== 'gen' && mode !== 'check') throw new Error('usage: openapi.ts gen|check');
  const documents = await liveOpenApiDocuments();
  const stale: string[] = [];
  for (const app of OPENAPI_APPS) {
    if (mode === 'gen') {
      writeOpenApi(app, documents[app]);
      process.stdout.write(`openapi: wrote docs/openapi/${app}.json\n`);
    } else if (committedOpenApi(app) !== serializeOpenApi(documents[app])) {
      stale.push(`docs/openapi/${app}.json`);
    }
  }
  if (stale.length) {
    process.stderr.write(`openapi-check FAILED: ${stale.join(', ')} differ from what the apps serve; run npm run openapi:gen and commit\n`);
    process.exit(1);
  }
  if (mode === 'check') process.stdout.write('openapi-check: ok\n');
}

main(process.argv[2]).then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`openapi: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
