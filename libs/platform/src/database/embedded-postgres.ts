import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DataDirectoryLock, DataDirectoryOwnerKind } from './data-directory-lock';
import { pinPGliteConnectionsPerBatch } from './pglite-socket-affinity';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves an in-process PGlite over the Postgres wire protocol, so every component talks `pg` to
 * one kind of server whether it is embedded or real. PGlite runs one transaction at a time; the
 * socket server's multiplexer queues other connections meanwhile.
 *
 * A data directory on disk is owned by one process at a time (DataDirectoryLock, taken before
 * PGlite opens the files and released after it closed them); the lock records the URL served
 * here, so another process (`oa`) works through it instead of opening the files. `owner` says
 * what kind of process holds it, for the message others get. "memory" needs no lock.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  owner?: DataDirectoryOwnerKind;
}): Promise<EmbeddedPostgres> {
  const inMemory = options.dataDir === 'memory';
  const lock = inMemory ? undefined : DataDirectoryLock.acquire(options.dataDir, options.owner ?? 'server');
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    if (!inMemory) mkdirSync(options.dataDir, { recursive: true });
    db = await PGlite.create(inMemory ? undefined : options.dataDir);
    server = new PGLiteSocketServer({
      db,
      host: '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: 200,
    });
    pinPGliteConnectionsPerBatch(server);
    await server.start();
    const address = (server as unknown as { server: import('node:net').Server }).server.address();
    if (!address || typeof address === 'string') throw new Error('embedded Postgres did not bind a TCP port');
    const url = `postgres://postgres@127.0.0.1:${address.port}/postgres`;
    lock?.announce(url);
    const [openDb, openServer] = [db, server];
    return {
      url,
      async stop() {
        try {
          await openServer.stop();
          await openDb.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (error) {
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
}
