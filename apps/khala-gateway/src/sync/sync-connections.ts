import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { CLOCK_SKEW_SECONDS, SyncPrincipal } from '@khala/auth';
import { encodeFrame, parsePhoenixFrame, replyFrame } from '@khala/contracts';
import { APP_ENV, LOGGER, METRICS_REGISTRY } from '@khala/platform';
import type { GatewayEnv } from '../gateway.env';
import { EntityOwnership } from './entity-ownership';
import { JournalRepository } from './journal.repository';
import { InboundLimiter } from './rate-limiter';
import { Revocations } from './revocations';
import { SyncError } from './sync.error';
import { CLOSE, GOING_AWAY_REASON } from './session/session-ports';
import { SyncSession } from './session/sync-session';
import { TopicFeeds } from './topic-feeds';

/** Client frames above this are answered with frame_too_large (§6); ws itself drops anything above HARD_MAX_FRAME_BYTES. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const HARD_MAX_FRAME_BYTES = 1024 * 1024;
/** A socket that does not finish closing (peer not reading) is destroyed after this. */
const CLOSE_GRACE_MS = 1000;

/**
 * Every sync socket of this process: wires a socket to its SyncSession (bypassing Nest's
 * per-message pipeline), enforces frame size and rate limits, and runs the two process-wide
 * timers (server heartbeat push, idle timeout) instead of one timer per connection.
 */
@Injectable()
export class SyncConnections implements OnModuleInit, OnApplicationShutdown {
  private readonly sessions = new Set<SyncSession>();
  /** Waiters for the last socket to close (the shutdown drain). */
  private readonly emptied = new Set<() => void>();
  private heartbeatTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private readonly connections: Gauge;
  private readonly batches: Counter;
  private readonly updates: Counter;
  private readonly slowConsumers: Counter<'action'>;
  private readonly revoked: Counter;
  private readonly expired: Counter;
  private readonly rejectedFrames: Counter<'code'>;
  private readonly staleCursors: Counter<'reason'>;
  private readonly authFailures: Counter<'reason'>;

  constructor(
    private readonly journal: JournalRepository,
    private readonly ownership: EntityOwnership,
    private readonly feeds: TopicFeeds,
    private readonly revocations: Revocations,
    @Inject(APP_ENV) private readonly env: GatewayEnv,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const registers = [registry];
    this.connections = new Gauge({ name: 'khala_gateway_connections', help: 'Open sync sockets', registers });
    this.batches = new Counter({ name: 'khala_gateway_update_batches_sent_total', help: 'Update batches sent', registers });
    this.updates = new Counter({ name: 'khala_gateway_updates_sent_total', help: 'Updates sent (one per subscriber)', registers });
    this.slowConsumers = new Counter({
      name: 'khala_gateway_slow_consumer_strikes_total',
      help: 'Slow consumer strikes by action',
      labelNames: ['action'],
      registers,
    });
    this.revoked = new Counter({ name: 'khala_gateway_revoked_connections_total', help: 'Sockets closed by revocation', registers });
    this.expired = new Counter({ name: 'khala_gateway_expired_connections_total', help: 'Sockets closed because their sync token expired', registers });
    this.rejectedFrames = new Counter({
      name: 'khala_gateway_rejected_frames_total',
      help: 'Client frames refused',
      labelNames: ['code'],
      registers,
    });
    this.staleCursors = new Counter({
      name: 'khala_gateway_stale_cursors_total',
      help: 'stale_cursor replies and pushes (the client must resync those topics from a snapshot), per reason code',
      labelNames: ['reason'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'khala_gateway_auth_failures_total',
      help: 'Sync sockets refused at the upgrade (token or Origin) and joins refused for a revoked session, per reason',
      labelNames: ['reason'],
      registers,
    });
    const sessions = this.sessions;
    new Gauge({
      name: 'khala_gateway_subscriptions',
      help: 'Topics subscribed over all open sync sockets',
      registers,
      collect() {
        let topics = 0;
        for (const session of sessions) topics += session.subscriptionCount;
        this.set(topics);
      },
    });
  }

  onModuleInit(): void {
    this.heartbeatTimer = setInterval(() => {
      for (const session of this.sessions) session.heartbeat();
    }, this.env.GATEWAY_HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
    const idleTimeout = this.env.GATEWAY_IDLE_TIMEOUT_MS;
    this.idleTimer = setInterval(
      () => {
        const now = Date.now();
        const cutoff = now - idleTimeout;
        for (const session of this.sessions) {
          // The same tolerance the verifier grants at connect: a socket never outlives what a
          // reconnect with the same token would be allowed.
          if ((session.principal.expiresAt + CLOCK_SKEW_SECONDS) * 1000 <= now) {
            this.expired.inc();
            session.expire();
          } else if (session.lastActivityAt < cutoff) session.close(CLOSE.idle, 'idle timeout');
        }
      },
      Math.max(25, Math.min(1000, Math.floor(idleTimeout / 4))),
    );
    this.idleTimer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.idleTimer);
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * The shutdown drain: every socket is closed with 1001 and the reconnect hint, and this resolves
   * once all have closed. A socket whose peer does not answer the close is terminated after
   * CLOSE_GRACE_MS, so the wait is bounded.
   */
  async goAway(): Promise<void> {
    if (this.sessions.size === 0) return;
    const closed = new Promise<void>((resolve) => this.emptied.add(resolve));
    for (const session of this.sessions) session.close(CLOSE.goingAway, GOING_AWAY_REASON);
    await closed;
  }

  accept(socket: WebSocket, principal: SyncPrincipal): void {
    let closeTimer: NodeJS.Timeout | undefined;
    const session = new SyncSession(
      principal,
      {
        journal: this.journal,
        ownership: this.ownership,
        feeds: this.feeds,
        revocationReason: (sessionId) => this.revocations.reasonFor(sessionId),
        onSlowConsumer: (action) => this.slowConsumers.inc({ action }),
        onStaleCursor: (reasons) => {
          for (const reason of reasons) this.staleCursors.inc({ reason });
        },
        onJoinRefused: (reason) => this.authFailures.inc({ reason }),
        onBatchSent: (updates) => {
          this.batches.inc();
          this.updates.inc(updates);
        },
        onError: (error) => this.logger.error({ err: error }, 'sync session failed'),
      },
      {
        send: (frame) => {
          if (socket.readyState === socket.OPEN) socket.send(frame, { binary: false });
        },
        bufferedAmount: () => socket.bufferedAmount,
        close: (code, reason) => {
          if (socket.readyState === socket.OPEN) socket.close(code, reason);
          closeTimer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
          closeTimer.unref();
        },
      },
      { bufferedAmountCap: this.env.GATEWAY_BUFFERED_AMOUNT_CAP, strikeMs: this.env.GATEWAY_SLOW_CONSUMER_STRIKE_MS },
    );
    this.sessions.add(session);
    this.connections.inc();
    const unwatch = this.revocations.watch({
      sessionId: principal.sessionId,
      revoke: (reason) => {
        this.revoked.inc();
        session.revoke(reason);
      },
    });
    const limiter = new InboundLimiter(
      this.env.GATEWAY_RATE_LIMIT_PER_SECOND,
      this.env.GATEWAY_RATE_LIMIT_BURST,
      this.env.GATEWAY_RATE_LIMIT_FLOOD_FRAMES,
      Date.now(),
    );
    // Every inbound frame, whatever it is, costs a token first: the limit is what bounds the work
    // one connection can make this process do, so nothing is parsed before it.
    const admit = (data: Buffer | undefined): boolean => {
      const admission = limiter.admit(Date.now());
      if (admission.allowed) return true;
      this.rejectedFrames.inc({ code: 'rate_limited' });
      if (admission.flooding) session.floodClose(admission.retryAfterMs);
      else if (data) this.refuse(socket, data, new SyncError('rate_limited', 'too many client events', { retry_after_ms: admission.retryAfterMs }));
      return false;
    };
    // ws answers pings itself; a ping flood is still a flood.
    socket.on('ping', () => void admit(undefined));

    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (!admit(data)) return;
      if (isBinary) {
        this.rejectedFrames.inc({ code: 'bad_frame' });
        return this.refuse(socket, undefined, new SyncError('bad_frame', 'binary frames are not accepted; send Phoenix v2 JSON text'));
      }
      if (data.length > MAX_FRAME_BYTES) {
        this.rejectedFrames.inc({ code: 'frame_too_large' });
        return this.refuse(socket, undefined, new SyncError('frame_too_large', `frames are limited to ${MAX_FRAME_BYTES} bytes`, { max_frame_bytes: MAX_FRAME_BYTES }));
      }
      const parsed = parsePhoenixFrame(data.toString());
      if (!parsed.ok) {
        this.rejectedFrames.inc({ code: 'bad_frame' });
        const error = new SyncError('bad_frame', parsed.reason);
        if (parsed.ref !== null && parsed.topic !== null) {
          socket.send(replyFrame({ joinRef: parsed.joinRef, ref: parsed.ref, topic: parsed.topic }, 'error', error.toPayload()));
        } else {
          socket.send(encodeFrame(null, null, 'phoenix', 'sync:error', error.toPayload()));
        }
        return;
      }
      void session.handle(parsed.message);
    });
    socket.on('close', () => {
      clearTimeout(closeTimer);
      unwatch();
      session.dispose();
      if (this.sessions.delete(session)) this.connections.dec();
      if (this.sessions.size === 0) {
        for (const resolve of this.emptied) resolve();
        this.emptied.clear();
      }
    });
  }

  /** Answers a refused frame: as a reply when its refs can be read cheaply, else as a push. */
  private refuse(socket: WebSocket, data: Buffer | undefined, error: SyncError): void {
    if (socket.readyState !== socket.OPEN) return;
    const parsed = data && data.length <= MAX_FRAME_BYTES ? parsePhoenixFrame(data.toString()) : undefined;
    if (parsed && parsed.ok && parsed.message.ref !== null) {
      socket.send(replyFrame(parsed.message, 'error', error.toPayload()));
    } else {
      socket.send(encodeFrame(null, null, 'phoenix', 'sync:error', error.toPayload()));
    }
  }

  /**
   * A sync socket refused at the upgrade: `reason` is the AuthError code (a bounded set, anything
   * else is counted as invalid_token) or origin_not_allowed.
   */
  countRefusedUpgrade(reason: string): void {
    this.authFailures.inc({ reason });
  }

  /** Sockets refused before a session exists (no principal: should not happen behind verifyClient). */
  reject(socket: WebSocket, _request: IncomingMessage): void {
    socket.close(CLOSE.reauth, 'unauthenticated');
  }
}
