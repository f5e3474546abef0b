/** The server is shutting down (docs/protocol/README.md §9): reconnect now, to another instance if there is one. */
export const GOING_AWAY = 1001;
/** The socket dropped without a close frame (the instance died, or the network did). */
export const ABNORMAL_CLOSURE = 1006;

/** The most a server's hint may hold a client back. */
const MAX_HINT_MS = 60_000;

/** The `reconnect_after_ms=<n>` hint of a 1001 close reason; none means now. */
export function reconnectAfterMs(reason: string): number {
  const hint = /reconnect_after_ms=(\d+)/.exec(reason);
  return hint ? Math.min(Number(hint[1]), MAX_HINT_MS) : 0;
}
