/**
 * Benchmark child processes: each runs a TypeScript entry through @swc-node/register, pinned to
 * a CPU with taskset when the machine has one and more than one core, and talks to the parent by
 * JSON lines on stdout (stderr passes through). Every child is killed when the parent exits.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The cores to pin to: 'server' (and in-process peers) on the first, the load generator on the last. */
export function pinning(): { server?: string; load?: string; note: string } {
  const count = cpus().length;
  if (!hasTaskset || count < 2) return { note: `not pinned (${hasTaskset ? `${count} core` : 'no taskset'})` };
  return { server: '0', load: String(count - 1), note: `server/peer pinned to cpu 0, load generator to cpu ${count - 1} (taskset); Postgres unpinned` };
}

export interface JsonChild {
  process: ChildProcess;
  /** The next JSON line the child prints. */
  next<T>(): Promise<T>;
  /** Waits for the exit (SIGTERM after `graceMs`, SIGKILL after twice that). */
  stop(graceMs?: number): Promise<void>;
}

export function spawnJsonChild(entry: string, options: { cpu?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; args?: string[] } = {}): JsonChild {
  const nodeArgv = [...(options.nodeArgs ?? []), '-r', '@swc-node/register', join(REPO_ROOT, entry), ...(options.args ?? [])];
  const [command, argv] = options.cpu !== undefined ? ['taskset', ['-c', options.cpu, process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
  // An env key set to undefined is removed (e.g. DATABASE_URL, so the child starts PGlite).
  const env: NodeJS.ProcessEnv = { ...process.env, SWC_NODE_PROJECT: 'tsconfig.json', ...options.env };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  const lines: string[] = [];
  const waiters: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return process.stderr.write(`${line}\n`);
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(line);
    else lines.push(line);
  });
  void exited.then(() => {
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`${entry} exited (code ${child.exitCode}) before answering`));
  });
  return {
    process: child,
    async next<T>(): Promise<T> {
      const line = lines.shift() ?? (await new Promise<string>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`${entry} exited (code ${child.exitCode})`));
        waiters.push({ resolve, reject });
      }));
      return JSON.parse(line) as T;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null) return;
      child.stdin?.end();
      const term = setTimeout(() => child.kill('SIGTERM'), graceMs);
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs * 2);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    },
  };
}

/** In a child: answer the parent with one JSON line. */
export function reply(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

/** In a child: resolves when the parent closes our stdin (its way of saying "stop"). */
export function parentClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.resume();
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
}

/** utime + stime of a process in ms (Linux /proc), or undefined where there is no /proc. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them, in clock ticks (100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
