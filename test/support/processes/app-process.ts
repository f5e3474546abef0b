import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { watchChild } from './child-output';

const ROOT = join(__dirname, '../../..');

/** The entry points a fault test can run as real processes, straight from source (no build). */
export const APP_ENTRIES = {
  runtime: { path: 'apps/runtime/src/main.ts', ready: /listening on (http:\/\/\S+)/ },
  gateway: { path: 'apps/khala-gateway/src/main.ts', ready: /listening on (http:\/\/\S+)/ },
  control: { path: 'apps/control/src/main.ts', ready: /listening on (http:\/\/\S+)/ },
  'projector-worker': { path: 'apps/runtime/src/projector-worker.ts', ready: /"started".*"http":"(http:\/\/[^"]+)"/ },
} as const;
export type AppName = keyof typeof APP_ENTRIES;

export interface AppProcess {
  name: AppName;
  pid: number;
  /** The HTTP base URL the app printed (the projector worker's is its /metrics and health listener). */
  url?: string;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no shutdown hooks, no flush; the crash under test. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

// Every child any test started, so a failing test (or a dying jest worker) still kills them all.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node -r @swc-node/register apps/<app>/src/…` with `env` on top of this process's
 * environment and resolves once it reports it is ready (its "listening on" line).
 */
export async function startApp(name: AppName, env: Record<string, string>, startTimeoutMs = 60_000): Promise<AppProcess> {
  const entry = APP_ENTRIES[name];
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, entry.path)], {
    cwd: ROOT,
    // Port 0 unless the test says otherwise: several workers may run at once (lease standby).
    env: { ...process.env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'), LOG_LEVEL: 'error', PROJECTOR_WORKER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, exited } = watchChild(child, running, 100_000);
  const url = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${startTimeoutMs} ms: ${output()}`)), startTimeoutMs);
    const check = () => {
      const match = entry.ready.exec(output());
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(match[1]);
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}): ${output()}`));
    });
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    name,
    pid: child.pid!,
    url,
    output,
    exited,
    kill,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** SIGKILLs every child still running (afterAll, and after a failure). */
export async function killAllApps(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
