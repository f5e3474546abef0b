import { randomBytes } from 'node:crypto';
import { Database, quoteIdentifier } from './database';
import { withDatabaseName } from './database-url';
import { startEmbeddedPostgres } from './embedded-postgres';

export interface ScratchDatabase {
  url: string;
  /** Removes the database (or stops the embedded server); nothing of it remains. */
  drop(): Promise<void>;
}

/**
 * A new, empty database: `CREATE DATABASE <prefix>_<random>` on the Postgres server behind
 * `serverUrl` (same version and catalog output as that server), or a fresh in-memory PGlite when
 * there is no server or it is PGlite (which has no second database to create).
 */
export async function createScratchDatabase(options: { serverUrl?: string; prefix: string }): Promise<ScratchDatabase> {
  const admin = options.serverUrl ? await Database.connect({ url: options.serverUrl, max: 1 }) : undefined;
  if (!admin || admin.isPglite) {
    await admin?.close();
    const embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
    return { url: embedded.url, drop: () => embedded.stop() };
  }
  const name = `${options.prefix}_${randomBytes(5).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } finally {
    await admin.close();
  }
  const serverUrl = options.serverUrl!;
  return {
    url: withDatabaseName(serverUrl, name),
    async drop() {
      const cleanup = await Database.connect({ url: serverUrl, max: 1 });
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      } finally {
        await cleanup.close();
      }
    },
  };
}
