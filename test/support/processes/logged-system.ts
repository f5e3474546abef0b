import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { testDatabaseUrl } from '../test-database';
import { watchChild } from './child-output';

const ROOT = join(__dirname, '../../..');

export interface LoggedSystem {
  urls: { control: string; runtime: string; gateway: string };
  /** Every line the process wrote so far, stdout and stderr, none dropped. */
  output(): string;
  /** Resolves once the process has logged a line containing `text` (lines reach the pipe in the order they were logged). */
  logged(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, SIGKILL after a grace period. */
  stop(): Promise<void>;
}

// Every system a test started, so a failing test (or a dying jest worker) leaves none behind.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * `npm start`'s entry point (apps/embedded/src/main.ts) as a real process on the test database,
 * with `env` on top, every line it writes captured for the log tests to read. Resolves once it
 * printed its three URLs and `ready(output)` holds (the banner is written directly, JSON log lines
 * through the logger's own buffer, so a test that reads startup lines waits for them too).
 */
export async function startLoggedSystem(
  env: Record<string, string>,
  ready: (output: string) => boolean = () => true,
  startTimeoutMs = 90_000,
): Promise<LoggedSystem> {
  const child = fork(join(ROOT, 'apps/embedded/src/main.ts'), [], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    env: {
      ...process.env,
      SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
      DATABASE_URL: testDatabaseUrl(),
      DATA_DIR: 'memory',
      CONTROL_PORT: '0',
      RUNTIME_PORT: '0',
      KHALA_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // The log tests scan the whole output, so nothing is trimmed.
  const { output, exited } = watchChild(child, running, Number.POSITIVE_INFINITY);
  const untilOutput = (condition: (text: string) => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (condition(output())) done();
      };
      const timer = setTimeout(() => done(new Error(`waited ${timeoutMs} ms for ${what}: ${output().slice(-2000)}`)), timeoutMs);
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      void exited.then(({ code, signal }) => done(new Error(`system exited (code ${code}, signal ${signal}) while waiting for ${what}: ${output().slice(-2000)}`)));
      check();
    });

  const url = (name: string) => new RegExp(`^\\s+${name}\\s+(http://\\S+)`, 'm').exec(output())?.[1];
  await untilOutput((text) => !!url('control') && !!url('runtime') && !!url('gateway') && ready(text), startTimeoutMs, 'the system to start');
  return {
    urls: { control: url('control')!, runtime: url('runtime')!, gateway: url('gateway')! },
    output,
    logged: (text, timeoutMs = 30_000) => untilOutput((all) => all.includes(text), timeoutMs, `a line with ${text}`),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
