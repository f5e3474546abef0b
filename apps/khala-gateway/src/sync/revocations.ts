import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Database, DATABASE, APP_ENV, LOGGER } from '@khala/platform';
import type { GatewayEnv } from '../gateway.env';

/** apps/control NOTIFYs this channel in the transaction that records a revocation (JSON: {session_id, reason, ...}). */
export const REVOCATIONS_CHANNEL = 'khala_revocations';

export interface Revocable {
  readonly sessionId: string;
  revoke(reason: string): void;
}

/**
 * Revoked sessions, as apps/control records them in control.revocations. Nothing is kept in process
 * memory as the source of truth: every gateway instance LISTENs and also polls the table for the
 * sessions it serves, so a revocation closes sockets on all instances (docs/protocol/README.md §2).
 */
@Injectable()
export class Revocations implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly bySession = new Map<string, Set<Revocable>>();
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;
  private polling = false;
  private warned = false;

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: GatewayEnv,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  // After every onModuleInit: Database.listen opens its listener connection lazily and two first
  // LISTENs racing would each open one (the journal wake-ups LISTEN in onModuleInit).
  async onApplicationBootstrap(): Promise<void> {
    this.unlisten = await this.db.listen(REVOCATIONS_CHANNEL, (payload) => this.onNotice(payload));
    const interval = this.db.isPglite ? Math.min(this.env.POLL_INTERVAL_MS, this.env.GATEWAY_REVOCATION_POLL_MS) : this.env.GATEWAY_REVOCATION_POLL_MS;
    this.timer = setInterval(() => void this.poll(), interval);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unlisten?.();
  }

  /** Why the session was revoked, or undefined while it is not. */
  async reasonFor(sessionId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ reason: string }>('SELECT reason FROM control.revocations WHERE session_id = $1', [
      sessionId,
    ]);
    return rows[0]?.reason;
  }

  watch(connection: Revocable): () => void {
    let set = this.bySession.get(connection.sessionId);
    if (!set) {
      set = new Set();
      this.bySession.set(connection.sessionId, set);
    }
    set.add(connection);
    return () => {
      set.delete(connection);
      if (set.size === 0 && this.bySession.get(connection.sessionId) === set) this.bySession.delete(connection.sessionId);
    };
  }

  private onNotice(payload: string): void {
    let notice: { session_id?: unknown; reason?: unknown };
    try {
      notice = JSON.parse(payload) as typeof notice;
    } catch {
      // An unparseable notice is still a hint: check every watched session now.
      void this.poll();
      return;
    }
    if (typeof notice.session_id !== 'string') return void this.poll();
    this.revokeSession(notice.session_id, typeof notice.reason === 'string' ? notice.reason : 'session_revoked');
  }

  private revokeSession(sessionId: string, reason: string): void {
    const set = this.bySession.get(sessionId);
    if (!set) return;
    this.bySession.delete(sessionId);
    for (const connection of set) connection.revoke(reason);
  }

  /** The fallback: NOTIFY is lost while the listener reconnects, and PGlite has none. */
  private async poll(): Promise<void> {
    if (this.polling || this.bySession.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.bySession.keys()];
      for (let i = 0; i < ids.length; i += 5000) {
        const { rows } = await this.db.query<{ session_id: string; reason: string }>(
          'SELECT session_id, reason FROM control.revocations WHERE session_id = ANY($1::text[])',
          [ids.slice(i, i + 5000)],
        );
        for (const row of rows) this.revokeSession(row.session_id, row.reason);
      }
    } catch (error) {
      if (!this.warned) this.logger.warn({ err: error }, 'revocation poll failed');
      this.warned = true;
    } finally {
      this.polling = false;
    }
  }
}
