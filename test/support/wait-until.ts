/**
 * Polls `condition` until it holds. The bound is a safety net against a hang, never the thing
 * measured: give it room for a loaded machine, and name what is awaited so a timeout says it.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
