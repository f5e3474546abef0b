import { Client, ClientConfig } from 'pg';
import { Database } from '@khala/platform';

/** Who may write a projection right now. The runner also fences every batch on its checkpoint. */
export interface ProjectionLease {
  readonly held: boolean;
  /** True when this instance now holds the lease (or already did). */
  tryAcquire(): Promise<boolean>;
  release(): Promise<void>;
}

// PGlite serves every socket from ONE backend session, so its advisory locks are re-entrant for
// everyone. Embedded mode is single-process by design; inside that process this map is the lease.
const inProcessHolders = new Map<string, object>();

const KEEPALIVE_MS = 2000;

/**
 * One active projector per projection: a session-level advisory lock held on a dedicated
 * connection (not a pool client, which the pool could hand to someone else or recycle). If that
 * connection dies, Postgres releases the lock and a standby takes it; `held` turns false here as
 * soon as the connection reports an error or a keepalive fails, and the batch fence catches a
 * batch that was already in flight.
 */
export class AdvisoryLease implements ProjectionLease {
  private client?: Client;
  private keepalive?: NodeJS.Timeout;
  private holding = false;
  private readonly owner = {};

  constructor(
    private readonly db: Database,
    /** Names the lock; hashed to a bigint key with hashtextextended. */
    readonly key: string,
  ) {}

  get held(): boolean {
    return this.holding;
  }

  async tryAcquire(): Promise<boolean> {
    if (this.holding) return true;
    if (this.db.isPglite) {
      const holder = inProcessHolders.get(this.key);
      if (holder && holder !== this.owner) return false;
      inProcessHolders.set(this.key, this.owner);
      this.holding = true;
      return true;
    }
    const client = await this.connection();
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [this.key]);
    if (!rows[0].ok) return false;
    this.holding = true;
    this.keepalive = setInterval(() => {
      client.query('SELECT 1').catch(() => this.lost());
    }, KEEPALIVE_MS);
    this.keepalive.unref();
    return true;
  }

  async release(): Promise<void> {
    if (this.db.isPglite) {
      if (inProcessHolders.get(this.key) === this.owner) inProcessHolders.delete(this.key);
      this.holding = false;
      return;
    }
    clearInterval(this.keepalive);
    this.holding = false;
    const client = this.client;
    this.client = undefined;
    // Closing the session releases the lock; no unlock round trip needed.
    await client?.end().catch(() => undefined);
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    // The pool's own settings: same server, same role (startup option), same application name.
    const config = { ...(this.db.pool.options as ClientConfig), application_name: `${this.db.pool.options.application_name ?? 'khala'}-lease` };
    const client = new Client(config);
    client.on('error', () => this.lost());
    client.on('end', () => this.lost());
    await client.connect();
    this.client = client;
    return client;
  }

  private lost(): void {
    clearInterval(this.keepalive);
    this.holding = false;
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
  }
}

/** For tests and tools that run a projection alone on purpose (e.g. a scratch rebuild). */
export class NoLease implements ProjectionLease {
  readonly held = true;
  async tryAcquire(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
}
