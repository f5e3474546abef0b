import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { pinPGliteConnectionsPerBatch } from './pglite-socket-affinity';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves an in-process PGlite over the Postgres wire protocol, so every component talks `pg` to
 * one kind of server whether it is embedded or real. PGlite runs one transaction at a time; the
 * socket server's multiplexer queues other connections meanwhile.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
}): Promise<EmbeddedPostgres> {
  const inMemory = options.dataDir === 'memory';
  if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(inMemory ? undefined : options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: options.port ?? 0,
    maxConnections: 200,
  });
  pinPGliteConnectionsPerBatch(server);
  await server.start();
  const address = (server as unknown as { server: import('node:net').Server }).server.address();
  if (!address || typeof address === 'string') throw new Error('embedded Postgres did not bind a TCP port');
  return {
    url: `postgres://postgres@127.0.0.1:${address.port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
