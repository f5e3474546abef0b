/**
 * Child process of the `append` benchmark: the second peer, the same one-event command over HTTP
 * in front of Emmett's Postgres store (@event-driven-io/emmett-postgresql 0.42.0).
 *
 * Emmett's own web helpers (@event-driven-io/emmett-expressjs) exist only for Emmett 0.20 (or a
 * 0.35 pre-release) and express 4, which do not fit the Emmett 0.42 and express 5 installed here,
 * so this is their convention written out on express 5: JSON body, the expected stream version in
 * `If-Match` (a weak ETag, W/"n"), 201 with the next version as the ETag, 412 on a version
 * conflict, problem details on errors. No authentication and no validation library: it is the
 * floor an HTTP command over Emmett costs, not a full application.
 *
 * Prints {url} and serves until stdin closes.
 */
import { ExpectedVersionConflictError } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import express, { NextFunction, Request, Response } from 'express';
import { AddressInfo } from 'node:net';
import { parentClosed, reply } from './child-process';

function expectedVersion(ifMatch: string | undefined): bigint | undefined {
  const match = /^W\/"(\d+)"$/.exec(ifMatch ?? '');
  return match ? BigInt(match[1]) : undefined;
}

async function main(url: string): Promise<void> {
  const store = getPostgreSQLEventStore(url);
  // The first call creates Emmett's schema; keep it out of the measurement.
  await store.appendToStream('emmett-http-warm', [{ type: 'Warm', data: {} }]);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: '1mb' }));
  app.post('/streams/:stream/events', async (req: Request, res: Response, next: NextFunction) => {
    const expected = expectedVersion(req.header('if-match'));
    const body = req.body as { type?: unknown; data?: unknown };
    if (expected === undefined || typeof body?.type !== 'string' || typeof body.data !== 'object' || body.data === null) {
      res.status(400).type('application/problem+json').json({ title: 'Bad Request', status: 400, detail: 'If-Match W/"n", type and data are required' });
      return;
    }
    try {
      const result = await store.appendToStream(String(req.params.stream), [{ type: body.type, data: body.data as Record<string, unknown> }], { expectedStreamVersion: expected });
      res.status(201).setHeader('etag', `W/"${result.nextExpectedStreamVersion}"`);
      res.json({ next_expected_version: Number(result.nextExpectedStreamVersion) });
    } catch (error) {
      if (error instanceof ExpectedVersionConflictError) {
        res.status(412).type('application/problem+json').json({ title: 'Precondition Failed', status: 412, detail: (error as Error).message });
        return;
      }
      next(error);
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  reply({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  await parentClosed();
  server.close();
  await store.close();
  process.exit(0);
}

main(JSON.parse(process.argv[2]) as string).catch((error: Error) => {
  process.stderr.write(`emmett-http-server: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
