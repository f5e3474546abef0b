import type { ChildProcess } from 'node:child_process';

export interface WatchedChild {
  /** The latest of everything the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Collects a child's stdout and stderr (keeping the last `keepChars` once it passes twice that,
 * so a chatty process cannot grow the test's memory) and resolves `exited` when it ends;
 * `running` tracks it until then, for the caller's kill-everything-left cleanup.
 */
export function watchChild(child: ChildProcess, running: Set<ChildProcess>, keepChars: number): WatchedChild {
  running.add(child);
  let out = '';
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > keepChars * 2) out = out.slice(-keepChars);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { output: () => out, exited };
}
