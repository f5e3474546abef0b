import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirectoryLock } from '@khala/platform';
import {
  EmbeddedServer,
  killAllEmbeddedServers,
  oaOn,
  startEmbeddedServer,
  startRefusedServer,
} from './support/embedded-server';

/**
 * One process owns an embedded PGlite data directory at a time (`npm start` and `npm run oa` on
 * the same DATA_DIR). Two processes opening the same PGlite files each keep their own view and
 * write it back, so an acknowledged write disappeared after a restart and the CLI read stale
 * data. These run the real entry points as child processes on a temporary DATA_DIR; they need no
 * DATABASE_URL and run the same in both test passes.
 */
describe('embedded data directory ownership', () => {
  const dirs: string[] = [];
  const freshDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'khala-data-'));
    dirs.push(dir);
    return dir;
  };

  afterEach(async () => {
    await killAllEmbeddedServers();
  });

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write when oa runs while the server serves, and oa reads the live state', async () => {
    const dataDir = freshDataDir();
    const first = await startEmbeddedServer(dataDir);
    const token = await signUp(first);
    const runA = await createRun(first, token);
    await waitUntilReadable(first, token, runA);

    const status = await oaOn(dataDir, ['--json', 'projections', 'status', 'run_summaries']);
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const served = await servedCheckpoint(first, 'run_summaries');
    const [row] = JSON.parse(status.stdout) as { checkpoint: string }[];
    // The server had projected at least up to `served` before oa read; a copy of old files would be behind.
    expect(Number(row.checkpoint.split('/')[1])).toBeGreaterThanOrEqual(served);
    const stateA = await oaOn(dataDir, ['--json', 'state', `run-${runA}`]);
    expect({ code: stateA.code, stderr: stateA.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    const runB = await createRun(first, token);
    await waitUntilReadable(first, token, runB);
    const firstExit = await first.stop();

    const second = await startEmbeddedServer(dataDir);
    await waitUntilReadable(second, token, runA);
    await waitUntilReadable(second, token, runB);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
    expect(firstExit).toEqual({ code: 0, signal: null });
  }, 600_000);

  it('refuses a second server on a data directory a live server owns, and the first one keeps serving', async () => {
    const dataDir = freshDataDir();
    const first = await startEmbeddedServer(dataDir);
    const token = await signUp(first);
    const run = await createRun(first, token);

    const refused = await startRefusedServer(dataDir);
    expect(refused.startedAnyway).toBe(false);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(new RegExp(`in use by .*pid ${first.pid}`));

    await waitUntilReadable(first, token, run);
    expect(await first.stop()).toEqual({ code: 0, signal: null });

    // Vice versa: while an oa command owns the directory (here this test process, as the CLI
    // would), a server refuses too.
    const cliLock = DataDirectoryLock.acquire(join(dataDir, 'pglite'), 'cli');
    try {
      const refusedByCli = await startRefusedServer(dataDir);
      expect(refusedByCli.startedAnyway).toBe(false);
      expect(refusedByCli.code).not.toBe(0);
      expect(refusedByCli.output).toMatch(new RegExp(`in use by an oa command \\(pid ${process.pid}`));
    } finally {
      cliLock.release();
    }
  }, 600_000);

  it('takes over the data directory of a server killed with SIGKILL, with nothing acknowledged lost', async () => {
    const dataDir = freshDataDir();
    const first = await startEmbeddedServer(dataDir);
    const token = await signUp(first);
    const run = await createRun(first, token);
    await waitUntilReadable(first, token, run);
    await first.kill();

    const second = await startEmbeddedServer(dataDir);
    await waitUntilReadable(second, token, run);
    const state = await oaOn(dataDir, ['--json', 'state', `run-${run}`]);
    expect({ code: state.code, stderr: state.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 600_000);
});

async function call(url: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json: json as Record<string, unknown> | undefined };
}

async function signUp(server: EmbeddedServer): Promise<string> {
  const response = await call(`${server.urls.control}/api/auth/signup`, {
    method: 'POST',
    body: { email: `owner-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Owner' },
  });
  if (response.status !== 201) throw new Error(`signup answered ${response.status}: ${response.text}`);
  return response.json!.access_token as string;
}

async function createRun(server: EmbeddedServer, token: string): Promise<string> {
  const response = await call(`${server.urls.runtime}/api/runtime/runs`, { method: 'POST', token, body: {} });
  if (response.status !== 201) throw new Error(`create run answered ${response.status}: ${response.text}`);
  return response.json!.run_id as string;
}

/** Polls GET /runs/:id until 200 (the read model lags the command), failing after a generous deadline. */
async function waitUntilReadable(server: EmbeddedServer, token: string, runId: string, deadlineMs = 120_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = { status: 0, text: '' };
  while (Date.now() < until) {
    last = await call(`${server.urls.runtime}/api/runtime/runs/${runId}`, { token });
    if (last.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`run ${runId} not readable within ${deadlineMs} ms: ${last.status} ${last.text}`);
}

/** The checkpoint (prepare position) the server's projector reports in /metrics (polled until it has one). */
async function servedCheckpoint(server: EmbeddedServer, projection: string, deadlineMs = 60_000): Promise<number> {
  const pattern = new RegExp(`^khala_projection_checkpoint_position\\{[^}]*projection="${projection}"[^}]*\\} (\\d+)`, 'm');
  const until = Date.now() + deadlineMs;
  let text = '';
  while (Date.now() < until) {
    ({ text } = await call(`${server.urls.runtime}/metrics`));
    const match = pattern.exec(text);
    if (match) return Number(match[1]);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no checkpoint for ${projection} in /metrics: ${text.split('\n').filter((line) => line.startsWith('projection_')).join('\n')}`);
}
