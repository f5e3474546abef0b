import { ChildProcess, execFile, fork } from 'node:child_process';
import { join } from 'node:path';
import { watchChild } from '../../support/processes/child-output';

const ROOT = join(__dirname, '../../..');

export interface EmbeddedServerUrls {
  control: string;
  runtime: string;
  gateway: string;
}

export interface EmbeddedServer {
  pid: number;
  urls: EmbeddedServerUrls;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (a clean shutdown, as Ctrl-C or a service manager would), SIGKILL after a generous grace. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no shutdown hooks, the crash under test. */
  kill(): Promise<void>;
}

// Every child a test started, so a failing test still leaves no server behind.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The environment `npm start` and `npm run oa` see on a laptop: no DATABASE_URL (the embedded
 * PGlite in DATA_DIR), whatever the test run itself uses.
 */
function embeddedEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
    DATA_DIR: dataDir,
    CONTROL_PORT: '0',
    RUNTIME_PORT: '0',
    KHALA_PORT: '0',
    LOG_LEVEL: 'error',
    PASSWORD_SCRYPT_LOG_N: '14',
    ...extra,
  };
  delete env.DATABASE_URL;
  delete env.EVENTSTORE_URL;
  delete env.AUTH_SIGNING_KEYS;
  return env;
}

function spawnServer(dataDir: string): { child: ChildProcess; output: () => string; exited: EmbeddedServer['exited'] } {
  const child = fork(join(ROOT, 'apps/embedded/src/main.ts'), [], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    env: embeddedEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return { child, ...watchChild(child, running, 200_000) };
}

/** `npm start`'s entry (apps/embedded/src/main.ts) from source on `dataDir`; resolves once it printed its URLs. */
export async function startEmbeddedServer(dataDir: string, startTimeoutMs = 120_000): Promise<EmbeddedServer> {
  const { child, output, exited } = spawnServer(dataDir);
  const urls = await new Promise<EmbeddedServerUrls>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${startTimeoutMs} ms: ${output()}`)), startTimeoutMs);
    const check = () => {
      const url = (name: string) => new RegExp(`^\\s+${name}\\s+(http://\\S+)`, 'm').exec(output())?.[1];
      const [control, runtime, gateway] = [url('control'), url('runtime'), url('gateway')];
      if (!control || !runtime || !gateway) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ control, runtime, gateway });
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (code ${code}, signal ${signal}): ${output()}`));
    });
  });
  return {
    pid: child.pid!,
    urls,
    output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts a server that is expected to refuse: resolves with its exit code and output once it exits. */
export async function startRefusedServer(
  dataDir: string,
  deadlineMs = 120_000,
): Promise<{ code: number | null; output: string; startedAnyway: boolean }> {
  const { child, output, exited } = spawnServer(dataDir);
  const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  // A server that started anyway prints its URLs; stop it so the test can report that.
  const onData = () => {
    if (/^\s+runtime\s+http:\/\//m.test(output())) child.kill('SIGTERM');
  };
  child.stdout!.on('data', onData);
  const { code } = await exited;
  clearTimeout(timer);
  return { code, output: output(), startedAnyway: /^\s+runtime\s+http:\/\//m.test(output()) };
}

export interface OaResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run oa -- <args>` from source against the embedded data directory `dataDir` (no DATABASE_URL). */
export function oaOn(dataDir: string, args: string[]): Promise<OaResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), ...args],
      { cwd: ROOT, env: embeddedEnv(dataDir), maxBuffer: 64 * 1024 * 1024, timeout: 180_000 },
      (error, stdout, stderr) => {
        const code = error ? (error as { code?: number | string }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** SIGKILLs every server still running (afterEach/afterAll). */
export async function killAllEmbeddedServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
