import { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { databaseTarget, deliverLocally, NoticeBatcher, registerLocalListener, untagForeign } from './committed-notices';

/** A pool, a client or a transaction: whatever can run one parameterised statement. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface DatabaseOptions {
  url: string;
  /** Role every connection assumes (least privilege when sharing an admin URL); must be a plain identifier. */
  role?: string;
  max?: number;
  applicationName?: string;
}

/** A wake-up: its payload, and from this process's own `notifyCommitted`, its optional detail. */
export type NotificationListener = (payload: string, detail?: unknown) => void;

/**
 * A pg pool plus the few things every store needs: transactions, LISTEN wake-ups, and whether the
 * server is PGlite (one backend behind a multiplexer: session state such as SET ROLE or LISTEN is
 * shared by every socket, so neither is used there: only wake-ups from this process arrive, and the
 * rest falls back to polling).
 */
export class Database {
  private listenerClient?: PoolClient;
  private listenerClientPromise?: Promise<PoolClient>;
  private readonly listeners = new Map<string, Set<NotificationListener>>();
  private closed = false;
  private readonly unregisterLocal: () => void;
  private readonly notices: NoticeBatcher;

  private constructor(
    readonly pool: Pool,
    readonly isPglite: boolean,
    readonly role: string | undefined,
    private readonly target: string,
  ) {
    this.unregisterLocal = registerLocalListener(target, this);
    this.notices = new NoticeBatcher((channels, payloads) =>
      this.pool.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)', [channels, payloads]),
    );
  }

  static async connect(options: DatabaseOptions): Promise<Database> {
    const probe = new Pool({ connectionString: options.url, max: 1 });
    let isPglite: boolean;
    try {
      const { rows } = await probe.query<{ version: string }>('select version() as version');
      isPglite = rows[0].version.includes('PGlite');
    } finally {
      await probe.end();
    }
    const role = isPglite ? undefined : options.role;
    const pool = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      application_name: options.applicationName,
      // The role is a startup parameter, so every connection runs as it from its first statement.
      options: role ? `-c role=${role}` : undefined,
    });
    // An idle client that errors (server restart) must not crash the process; the pool drops it.
    pool.on('error', () => undefined);
    return new Database(pool, isPglite, role, databaseTarget(options.url));
  }

  query<R extends QueryResultRow = QueryResultRow>(sql: string, params: unknown[] = []) {
    return this.pool.query<R>(sql, params);
  }

  /**
   * Runs `work` in a transaction. `openWith`: statements (parameterless, values already quoted as
   * literals) sent together with BEGIN in one simple-protocol round trip; their results, in order,
   * are `work`'s second argument. They run one after another inside the transaction, each with its
   * own snapshot, exactly as if sent one by one: a hot transaction saves a round trip per statement.
   */
  async transaction<T>(
    work: (client: PoolClient, opened: QueryResult[]) => Promise<T>,
    options: { isolation?: IsolationLevel; openWith?: readonly string[] } = {},
  ): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no pool error listener: a server shutdown (57P01) arriving between
    // two statements would be an unhandled 'error' event and kill the process. Record it instead;
    // the next statement fails, and the broken connection is destroyed, not returned to the pool.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      const begin = options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN';
      let opened: QueryResult[] = [];
      if (options.openWith?.length) {
        // A multi-statement simple query answers with one result per statement.
        const results = (await client.query([begin, ...options.openWith].join(';\n'))) as unknown as QueryResult[];
        opened = results.slice(1);
      } else {
        await client.query(begin);
      }
      const result = await work(client, opened);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * Subscribes to a NOTIFY channel and to this process's `notifyCommitted` on it. A wake-up is only a
   * hint: callers always re-read state, and keep a poll fallback because notifications are lost while
   * the listener reconnects (and on PGlite only this process's own arrive).
   */
  async listen(channel: string, onNotify: NotificationListener): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      if (!this.isPglite) await this.ensureListening(channel);
    }
    set.add(onNotify);
    return () => set.delete(onNotify);
  }

  /**
   * Wakes listeners of `channel` after a commit the caller has seen complete (see
   * committed-notices.ts for why not a NOTIFY inside the transaction): this process's listeners on
   * the same database at once, other processes' by a batched NOTIFY (not on PGlite, which has no
   * other listeners). `detail`: what this process's listeners may use instead of re-reading (the
   * rows just committed); other processes get the payload only.
   */
  notifyCommitted(channel: string, payload = '', detail?: unknown): void {
    if (this.closed) return;
    deliverLocally(this.target, channel, payload, detail);
    if (!this.isPglite) this.notices.add(channel, payload);
  }

  /** @internal Called by the local wake-up registry. */
  deliverLocally(channel: string, payload: string, detail?: unknown): void {
    for (const listener of this.listeners.get(channel) ?? []) listener(payload, detail);
  }

  private async ensureListening(channel: string): Promise<void> {
    if (this.closed) return;
    const client = await this.listenerConnection();
    await client.query(`LISTEN ${quoteIdentifier(channel)}`);
  }

  /**
   * The one connection that LISTENs, created once even when several first LISTENs race (a second
   * connection would never be released and would hang pool.end()).
   */
  private listenerConnection(): Promise<PoolClient> {
    this.listenerClientPromise ??= this.pool.connect().then((client) => {
      client.on('notification', (message) => {
        const payload = untagForeign(message.payload ?? '');
        if (payload === undefined) return;
        for (const listener of this.listeners.get(message.channel) ?? []) listener(payload);
      });
      client.on('error', () => {
        // The connection broke: drop it and re-LISTEN on a fresh one; polling covers the gap.
        client.release(true);
        this.listenerClient = undefined;
        this.listenerClientPromise = undefined;
        setTimeout(() => void this.relistenAll(), 250).unref();
      });
      this.listenerClient = client;
      return client;
    });
    this.listenerClientPromise.catch(() => (this.listenerClientPromise = undefined));
    return this.listenerClientPromise;
  }

  private async relistenAll(): Promise<void> {
    for (const channel of this.listeners.keys()) {
      try {
        await this.ensureListening(channel);
      } catch {
        setTimeout(() => void this.relistenAll(), 1000).unref();
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unregisterLocal();
    // A process that appends and exits (the CLI) still wakes the others.
    await this.notices.drain();
    const listener = await this.listenerClientPromise?.catch(() => undefined);
    listener?.release();
    this.listenerClient = undefined;
    this.listenerClientPromise = undefined;
    await this.pool.end();
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
