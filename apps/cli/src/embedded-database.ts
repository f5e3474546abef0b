import { DataDirectoryError, liveOwnerOf, startEmbeddedPostgres } from '@khala/platform';
import { join } from 'node:path';

/** The database an `oa` command uses without DATABASE_URL, and how to let go of it. */
export interface EmbeddedDatabase {
  url: string;
  close(): Promise<void>;
}

/** How long to wait for a server that owns the directory but is still opening it. */
const SERVER_STARTING_DEADLINE_MS = 60_000;

/**
 * The embedded database in DATA_DIR, without ever opening its files while another process has
 * them open (two PGlite instances on one directory lose each other's writes):
 * - a running Khala server owns it: work through the Postgres address that server serves it on
 *   (its PGlite multiplexer keeps each of our batches and transactions whole, as for its own
 *   connections), so what `oa` reads is the server's current state;
 * - nobody owns it: open it here, owning it until the command ends (a server started meanwhile
 *   refuses);
 * - another `oa` command owns it: refuse, saying so.
 */
export async function openEmbeddedDatabase(dataDir: string, notify: (line: string) => void): Promise<EmbeddedDatabase> {
  if (dataDir === 'memory') {
    const embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
    return { url: embedded.url, close: () => embedded.stop() };
  }
  const pgliteDir = join(dataDir, 'pglite');
  const deadline = Date.now() + SERVER_STARTING_DEADLINE_MS;
  for (;;) {
    const owner = liveOwnerOf(pgliteDir);
    if (owner?.kind === 'server' && owner.url) {
      notify(`${pgliteDir} is owned by the running Khala server (pid ${owner.pid}); working through ${owner.url}`);
      return { url: owner.url, close: async () => undefined };
    }
    if (owner?.kind === 'server' && Date.now() > deadline) {
      throw new DataDirectoryError(
        'data_directory_in_use',
        `${pgliteDir} is owned by a Khala server (pid ${owner.pid}) that has not served it within ${SERVER_STARTING_DEADLINE_MS / 1000} s; ` +
          'try again once it has started, or stop it',
        owner,
      );
    }
    if (owner?.kind === 'server') {
      await new Promise((resolve) => setTimeout(resolve, 200)); // still opening its files
      continue;
    }
    try {
      // Free, or owned by another oa command (acquire refuses with the owner named).
      const embedded = await startEmbeddedPostgres({ dataDir: pgliteDir, owner: 'cli' });
      return { url: embedded.url, close: () => embedded.stop() };
    } catch (error) {
      // A server took the directory between our look and our claim: work through it instead.
      if (error instanceof DataDirectoryError && error.owner?.kind === 'server') continue;
      throw error;
    }
  }
}
