/** A token bucket: `rate` events per second on average, bursts up to `burst`. Pure (time is passed in). */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes one token; returns 0 when allowed, else how many ms until one is available. */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.rate) / 1000);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }
}

export type Admission = { allowed: true } | { allowed: false; retryAfterMs: number; flooding: boolean };

/**
 * One connection's inbound limit. A client over its bucket is told to wait (rate_limited with
 * retry_after_ms). One that keeps sending anyway, more than `floodPerSecond` refused frames a
 * second (a second bucket of refusals, so a steady flood cannot hide behind the trickle of frames
 * the first bucket still admits), is flooding and gets disconnected, so answering it stops costing
 * the process anything.
 */
export class InboundLimiter {
  private readonly bucket: TokenBucket;
  private readonly refusals: TokenBucket;

  constructor(rate: number, burst: number, floodPerSecond: number, now: number) {
    this.bucket = new TokenBucket(rate, burst, now);
    this.refusals = new TokenBucket(floodPerSecond, floodPerSecond, now);
  }

  admit(now: number): Admission {
    const wait = this.bucket.take(now);
    if (wait === 0) return { allowed: true };
    return { allowed: false, retryAfterMs: wait, flooding: this.refusals.take(now) > 0 };
  }
}
