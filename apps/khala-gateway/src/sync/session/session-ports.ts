import type { EntityRef, JournalRepository } from '../journal.repository';
import type { TopicFeeds } from '../topic-feeds';

/** The socket as a session sees it (SyncConnections binds it to a `ws` socket; unit tests to an array). */
export interface SessionTransport {
  send(frame: string | Buffer): void;
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export interface SessionOptions {
  bufferedAmountCap: number;
  strikeMs: number;
}

/** Entity ownership as the projections show it (EntityOwnership), waited for when not shown yet. */
export interface OwnershipCheck {
  check(entities: EntityRef[]): Promise<boolean[]>;
  waitFor(entity: EntityRef): Promise<boolean>;
}

export interface SessionDeps {
  journal: JournalRepository;
  ownership: OwnershipCheck;
  feeds: TopicFeeds;
  revocationReason(sessionId: string): Promise<string | undefined>;
  onSlowConsumer?(action: 'throttle' | 'disconnect'): void;
  onBatchSent?(updates: number): void;
  /** A stale_cursor reply or push went out (the client must resync those topics); its reason codes. */
  onStaleCursor?(reasons: readonly string[]): void;
  /** The join was refused because the token's session is revoked. */
  onJoinRefused?(reason: 'session_revoked'): void;
  onError?(error: unknown): void;
}

/**
 * Close codes (4000-4999 are the application's): clients reconnect on all but reauth; after
 * tokenExpired they reconnect with a fresh sync token (same session, resume from watermarks).
 */
export const CLOSE = { goingAway: 1001, reauth: 4401, idle: 4408, rateLimited: 4428, slowConsumer: 4429, tokenExpired: 4440 } as const;

/**
 * The reason sent with 1001 when this instance shuts down: another instance can take the client at
 * once, so it should reconnect without backoff (docs/protocol/README.md §9) and resume from its
 * watermarks. The `reconnect_after_ms=0` hint is machine-readable; the text is for people.
 */
export const GOING_AWAY_REASON = 'server shutting down; reconnect_after_ms=0';
