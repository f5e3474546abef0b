export interface ResubscribeLimit {
  /** Resubscribes of one topic allowed within `windowMs`. */
  max: number;
  windowMs: number;
}

export const DEFAULT_RESUBSCRIBE_LIMIT: ResubscribeLimit = { max: 10, windowMs: 60_000 };

/**
 * How many times each topic may be resubscribed (after a gap, a stale cursor, a refused cursor...)
 * within a sliding window. Whatever goes wrong between a client and a server, a topic can then
 * cost at most `max` subscribes per window instead of a loop that floods the connection.
 */
export class ResubscribeBudget {
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly limit: ResubscribeLimit = DEFAULT_RESUBSCRIBE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one resubscribe of `topic` from the budget; false when the window's budget is spent. */
  take(topic: string): boolean {
    const now = this.now();
    const recent = (this.times.get(topic) ?? []).filter((at) => now - at < this.limit.windowMs);
    if (recent.length >= this.limit.max) {
      this.times.set(topic, recent);
      return false;
    }
    recent.push(now);
    this.times.set(topic, recent);
    return true;
  }

  clear(): void {
    this.times.clear();
  }
}
