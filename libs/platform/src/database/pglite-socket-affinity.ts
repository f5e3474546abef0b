import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(error: unknown): void;
  onData(data: Uint8Array): void;
}

interface PGliteHandle {
  isInTransaction(): boolean;
  runExclusive<T>(work: () => Promise<T>): Promise<T>;
  execProtocolRawStream(message: Uint8Array, options: { onRawData(data: Uint8Array): void }): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
}

interface QueryQueueInternals {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: PGliteHandle;
  processQueue(): Promise<void>;
}

interface ServerInternals {
  queryQueue: QueryQueueInternals;
  handlers: Set<{ handlerId: number }>;
}

const SYNC = 0x53; // 'S': ends an extended-protocol batch
const QUERY = 0x51; // 'Q': a simple query is a batch of its own
const TERMINATE = 0x58; // 'X'

/**
 * pglite-socket 0.2.17 multiplexes every socket onto PGlite's single session, but keeps a
 * connection pinned only while a transaction is open. Outside a transaction the Parse/Bind/
 * Execute/Sync messages of two connections interleave, which yields "portal does not exist",
 * wrong parameter counts, or silently wrong results (electric-sql/pglite#1046). This replaces the
 * queue's scheduler (private API, pinned version) so that:
 * - a connection stays pinned until its batch ends (Sync or a simple Query), as well as while a
 *   transaction it opened is in progress;
 * - a failed message never leaves the queue stuck (the failing connection's Sync still ends its batch);
 * - a pinned connection that disappears (client killed mid-batch or mid-transaction) is released,
 *   rolling back its open transaction, instead of wedging every other connection.
 */
export function pinPGliteConnectionsPerBatch(server: PGLiteSocketServer): void {
  const internals = server as unknown as ServerInternals;
  const queue = internals.queryQueue;
  if (!queue || !Array.isArray(queue.queue) || typeof queue.processQueue !== 'function') {
    throw new Error('unsupported @electric-sql/pglite-socket version: its query queue changed');
  }
  let batchOpen = false;
  const ownerAlive = (handlerId: number) => [...internals.handlers].some((handler) => handler.handlerId === handlerId);

  queue.processQueue = async function processQueue(this: QueryQueueInternals) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const owner = this.lastHandlerId;
        const pinned = owner !== null && (batchOpen || this.db.isInTransaction());
        let index = pinned ? this.queue.findIndex((item) => item.handlerId === owner) : 0;
        if (index === -1) {
          if (ownerAlive(owner!)) {
            if (diagnostics) reportWait(owner!, this.queue.length);
            break; // the owner's next message is on its way; its enqueue re-runs us
          }
          if (this.db.isInTransaction()) await this.db.runExclusive(() => this.db.exec('ROLLBACK'));
          batchOpen = false;
          this.lastHandlerId = null;
          index = 0;
        }
        const [item] = this.queue.splice(index, 1);
        const type = item.message[0];
        if (diagnostics) remember(item);
        // After an error the server skips this connection's messages until its Sync, so the batch
        // stays pinned either way; only Sync/Query/Terminate end it.
        batchOpen = !(type === SYNC || type === QUERY || type === TERMINATE);
        this.lastHandlerId = item.handlerId;
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (error) {
          item.reject(error);
          continue;
        }
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
}

// Diagnostics (setPgliteDiagnostics(true); the test run's global setup turns them on with
// KHALA_PGLITE_DEBUG=1): which connection holds the session while others wait, and what it ran
// last. A long hold usually means code that awaits a second connection while its own transaction
// is open, which deadlocks on a single-session server.
let diagnostics = false;
export function setPgliteDiagnostics(enabled: boolean): void {
  diagnostics = enabled;
}
const lastStatement = new Map<number, string>();
let waitStarted = 0;
function remember(item: QueuedMessage): void {
  waitStarted = 0;
  if (item.message[0] === 0x50 || item.message[0] === QUERY) {
    const text = Buffer.from(item.message).toString('utf8').replace(/[^\x20-\x7e]+/g, ' ').slice(0, 300);
    lastStatement.set(item.handlerId, text);
  }
}
function reportWait(owner: number, waiting: number): void {
  const now = Date.now();
  if (waitStarted === 0) waitStarted = now;
  else if (now - waitStarted > 1000) {
    process.stderr.write(`[pglite] connection #${owner} has held the session ${now - waitStarted} ms with ${waiting} waiting; last: ${lastStatement.get(owner)}\n`);
  }
}
