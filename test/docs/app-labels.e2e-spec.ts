import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { testDatabaseUrl } from '../support/test-database';

const ROOT = join(__dirname, '../..');

/**
 * docs/operations.md §3: one `app` name per app, in logs as in metrics, also when `npm start` runs
 * the three apps in one process (Nest's logger is one per process, so this can regress silently).
 */
describe('the app field of log lines in the all-in-one process', () => {
  let child: ChildProcess;
  let output = '';
  beforeAll(async () => {
    child = fork(join(ROOT, 'apps/embedded/src/main.ts'), [], {
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
        RUNTIME_PROJECTORS: 'off',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`system did not start: ${output.slice(-2000)}`)), 45_000);
      child.stdout!.on('data', () => {
        // The banner is written directly, the JSON lines through the logger's own buffer: wait for both.
        if (/^\s+gateway\s+http:\/\//m.test(output) && output.includes('"Mapped {/api/sync/snapshot, GET} route"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`system exited with ${code}: ${output.slice(-2000)}`));
      });
    });
  }, 60_000);
  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  const lines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { app?: string; msg?: string; context?: string });

  it.each([
    ['control', '/api/auth/signup'],
    ['runtime', '/api/runtime/runs'],
    ['gateway', '/api/sync/snapshot'],
  ])("%s's startup lines (its routes mapped) carry its own app name", (app, route) => {
    const mapped = lines().filter((line) => line.msg?.startsWith(`Mapped {${route},`));
    expect(mapped.length).toBeGreaterThan(0);
    expect(new Set(mapped.map((line) => line.app))).toEqual(new Set([app]));
  });

  it('every JSON log line names one of the three apps', () => {
    const names = new Set(lines().map((line) => line.app));
    expect([...names].filter((name) => !['control', 'runtime', 'gateway'].includes(name ?? ''))).toEqual([]);
  });
});
