import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { createRun, signUp, SignedUp } from '../control/control-client';

const run = promisify(execFile);
const repoRoot = join(__dirname, '../..');
const sdkDir = join(repoRoot, 'libs/khala-client');
const topic = 'runtime.run_summaries';

/**
 * The SDK as its users get it (issue: an installable SDK): `npm pack` in libs/khala-client, the
 * tarball installed into an empty project with registry dependencies only (ws), and the README's
 * example run unchanged against a running system: it subscribes (snapshot on first start), receives
 * live updates, and after a restart resumes from the watermarks it saved. The package's type
 * declarations are checked from an ES module and a CommonJS consumer.
 */
describe('@khala/khala-client packed, installed and run as the README shows', () => {
  let workDir: string;
  let appDir: string;
  let system: RunningSystem;
  let user: SignedUp;
  let syncUrl: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'khala-sdk-'));
    appDir = join(workDir, 'app');
    // npm pack runs the package's prepack (the build) and postpack (removes dist/ again).
    const packed = await npm(['pack', '--json', '--pack-destination', workDir], sdkDir);
    const [{ filename }] = JSON.parse(packed) as { filename: string }[];
    const { dependencies } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    await run('mkdir', [appDir]);
    await writeFile(join(appDir, 'package.json'), JSON.stringify({ name: 'sdk-user', version: '1.0.0', private: true }));
    await npm(['install', join(workDir, filename), `ws@${dependencies.ws}`, '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'], appDir);
    await writeFile(join(appDir, 'example.mjs'), readmeExample(await readFile(join(sdkDir, 'README.md'), 'utf8')));

    system = await startTestSystem();
    user = await signUp(system.urls.control);
    syncUrl = `${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket`;
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const newRun = async () => {
    const reply = await createRun(system.urls.runtime, user.access_token);
    expect(reply.status).toBe(201);
    return reply.body.run_id;
  };

  it('subscribes (snapshot first), receives live updates, and resumes from its saved watermark after a restart', async () => {
    const first = await newRun();
    const env = { KHALA_CONTROL_URL: system.urls.control, KHALA_SYNC_URL: syncUrl, KHALA_ACCESS_TOKEN: user.access_token };

    const firstStart = startExample(appDir, env);
    await firstStart.waitFor((line) => line.startsWith('live:'));
    expect(firstStart.lines).toContain(`resync ${topic} snapshot (cursor_missing)`);
    // The first run is in the snapshot, or (projected after it) arrives as an update.
    await firstStart.waitFor((line) => line.includes(`run_summary:${first} `));
    const second = await newRun();
    await firstStart.waitFor((line) => line.startsWith(`update run_summary:${second} `));
    expect(await firstStart.stop()).toBe(0);
    const saved = (JSON.parse(await readFile(join(appDir, 'watermarks.json'), 'utf8')) as Record<string, number>)[topic];
    expect(saved).toBeGreaterThan(0);

    const whileAway = await newRun();
    const restart = startExample(appDir, env);
    await restart.waitFor((line) => line.startsWith(`update run_summary:${whileAway} `));
    await restart.waitFor((line) => line.startsWith('live:'));
    // Resumed: no snapshot, and nothing at or below the watermark it had saved.
    expect(restart.lines.filter((line) => line.startsWith('resync') || line.startsWith('snapshot'))).toEqual([]);
    const watermarks = restart.lines.filter((line) => line.startsWith('update')).map((line) => Number(line.split(' at ')[1]));
    expect(watermarks.length).toBeGreaterThan(0);
    expect(Math.min(...watermarks)).toBe(saved + 1);
    expect(await restart.stop()).toBe(0);
    expect([...firstStart.errors, ...restart.errors]).toEqual([]);
  });

  it('with an access token the control plane refuses, the example fails at start() with connection_refused instead of retrying', async () => {
    const refused = startExample(appDir, { KHALA_CONTROL_URL: system.urls.control, KHALA_SYNC_URL: syncUrl, KHALA_ACCESS_TOKEN: 'not-a-token', KHALA_WATERMARKS_FILE: 'refused.json' });
    expect(await refused.exited).not.toBe(0);
    expect(refused.errors).toContain('sync error: connection_refused  sync token refused: HTTP 401');
  });

  it('ships type declarations that an ES module and a CommonJS consumer compile against', async () => {
    await writeFile(
      join(appDir, 'consumer.mts'),
      [
        "import { KhalaClient, MemoryWatermarkStore, type SyncErrorPayload, type Update, type WebSocketConstructor } from '@khala/khala-client';",
        'declare const WS: WebSocketConstructor;',
        "const client = new KhalaClient({ url: 'ws://x', token: () => 't', topics: ['runtime.notifications'], store: new MemoryWatermarkStore(), WebSocket: WS });",
        "client.on('update', (update: Update) => update.watermark);",
        "client.on('error', (error: SyncErrorPayload | Error) => error.message);",
      ].join('\n'),
    );
    await writeFile(
      join(appDir, 'consumer.cts'),
      ["import sdk = require('@khala/khala-client');", 'export const refused: sdk.ConnectionRefusedError = new sdk.ConnectionRefusedError(401, "no");'].join('\n'),
    );
    const tsconfig = { compilerOptions: { module: 'nodenext', strict: true, noEmit: true, types: [], lib: ['es2022', 'dom'] }, files: ['consumer.mts', 'consumer.cts'] };
    await writeFile(join(appDir, 'tsconfig.json'), JSON.stringify(tsconfig));
    await expect(run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', appDir], { cwd: appDir })).resolves.toBeDefined();
    const required = await run(process.execPath, ['-e', "process.stdout.write(typeof require('@khala/khala-client').KhalaClient)"], { cwd: appDir });
    expect(required.stdout).toBe('function');
  });
});

/** The README's example: the first js block after "## Example". */
function readmeExample(readme: string): string {
  const section = readme.slice(readme.indexOf('## Example'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('libs/khala-client/README.md has no js example');
  return match[1];
}

/** npm as a user runs it: without the npm_* variables of the `npm test` this runs under. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  const { stdout } = await run('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

interface RunningExample {
  lines: string[];
  errors: string[];
  exited: Promise<number | null>;
  waitFor(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  stop(): Promise<number | null>;
}

function startExample(cwd: string, env: Record<string, string>): RunningExample {
  const child: ChildProcess = spawn(process.execPath, ['example.mjs'], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const errors: string[] = [];
  const collect = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      into.push(...parts);
    };
  };
  child.stdout!.on('data', collect(lines));
  child.stderr!.on('data', collect(errors));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines,
    errors,
    exited,
    async waitFor(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`the example never printed the line awaited; stdout:\n${lines.join('\n')}\nstderr:\n${errors.join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
