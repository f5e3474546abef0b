/** Load-generator building blocks shared by the gateway scenarios and their peers. */

/** Runs `task(i)` for i in 0..count-1 with at most `concurrency` in flight (connection storms the listen backlog can take). */
export async function withConcurrency<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Open-loop schedule: event i is due at start + i / rate, whatever happened to earlier ones, and
 * `fire(i, dueAt)` gets the intended time so latency is measured from it (no coordinated omission:
 * a stall delays the send, and that delay counts against the system).
 */
export async function openLoop(count: number, ratePerSecond: number, fire: (index: number, dueAt: number) => void): Promise<void> {
  const start = performance.now() + 5;
  for (let i = 0; i < count; i++) {
    const dueAt = start + (i * 1000) / ratePerSecond;
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    fire(i, dueAt);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` or the deadline; false on timeout. */
export async function waitFor(done: () => boolean, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
