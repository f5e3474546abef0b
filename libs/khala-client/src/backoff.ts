export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Full-jitter exponential backoff: uniform in [0, min(max, initial * 2^attempt)], so clients that dropped together do not return together. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
