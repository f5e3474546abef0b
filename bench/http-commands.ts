/**
 * Runtime commands through HTTP: commands/s and p50/p99 latency at 1, 8 and 32 requests in flight,
 * with the whole system started in this process. Prints a table and writes
 * bench/results/http-commands.json; asserts nothing.
 *
 *   npm run bench:http-commands                               # embedded PGlite (and Postgres if DATABASE_URL is set)
 *   DATABASE_URL=postgres://… npm run bench:http-commands     # also a fresh database on that server
 *   BENCH_SECONDS=10 BENCH_PROJECTORS=on npm run bench:http-commands
 *
 * Scenarios (each request is one command):
 *   create_run         POST /api/runtime/runs
 *   append_frame       POST /runs/:id/frames, one frame; each in-flight lane rotates over its own 4 runs
 *   append_frame_1run  the same, but every lane appends to ONE run: optimistic-concurrency conflicts,
 *                      retried inside the command (bounded), a 409 concurrency_conflict when exhausted
 *   heartbeat          POST /codex/workers/:id/heartbeat, one worker per lane
 *
 * Stores: "pglite" is the embedded default exactly as `npm start` runs it (PGlite behind the
 * platform's socket server, which keeps each connection's extended-protocol batch together);
 * "postgres" when DATABASE_URL is set.
 * Requests time out after 10 s and count as errors, so a stalled store still finishes the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TokenService } from '../libs/auth/src/index';
import { Database, quoteIdentifier, redactDatabaseUrl, withDatabaseName } from '../libs/platform/src/index';
import { RunningSystem, startSystem } from '../apps/embedded/src/embedded';

const CONCURRENCY = [1, 8, 32];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_SECONDS = 0.5;
const REQUEST_TIMEOUT_MS = 10_000;
const RUNS_PER_LANE = 4;

interface Store {
  label: string;
  /** DATABASE_URL for startSystem; undefined = the embedded PGlite startSystem starts itself. */
  databaseUrl?: string;
  dispose(): Promise<void>;
}

interface Cell {
  store: string;
  scenario: string;
  concurrency: number;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  seconds: number;
  commands_per_second: number;
  p50_ms: number;
  p99_ms: number;
}

type Call = (lane: number, i: number) => Promise<Response>;

async function main() {
  const stores: (() => Promise<Store>)[] = [
    async () => ({ label: 'pglite', dispose: async () => undefined }),
  ];
  if (process.env.DATABASE_URL) stores.push(() => freshPostgres(process.env.DATABASE_URL!));

  const cells: Cell[] = [];
  for (const open of stores) {
    const store = await open();
    const system = await startSystem({
      ...process.env,
      DATABASE_URL: store.databaseUrl,
      DATA_DIR: 'memory',
      CONTROL_PORT: '0',
      RUNTIME_PORT: '0',
      KHALA_PORT: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      RUNTIME_PROJECTORS: process.env.BENCH_PROJECTORS ?? 'off',
    });
    process.stderr.write(`\n${store.label}: system up at ${system.urls.runtime}\n`);
    try {
      for (const concurrency of CONCURRENCY) {
        for (const [scenario, prepare] of Object.entries(SCENARIOS)) {
          let cell: Cell;
          try {
            const call = await prepare(await client(system), concurrency);
            cell = await measure(store.label, scenario, concurrency, call);
          } catch (error) {
            // A store that corrupts or stalls under concurrency can fail the setup requests too.
            cell = { store: store.label, scenario, concurrency, requests: 0, ok: 0, errors: { [`setup failed: ${(error as Error).message.slice(0, 80)}`]: 1 }, seconds: SECONDS, commands_per_second: 0, p50_ms: NaN, p99_ms: NaN };
          }
          cells.push(cell);
          process.stderr.write(
            `  ${scenario} @${concurrency}: ${cell.commands_per_second.toFixed(0)}/s p50 ${cell.p50_ms.toFixed(1)} ms ${JSON.stringify(cell.errors)}\n`,
          );
        }
      }
    } finally {
      // A stalled store (see above) can keep a pooled connection forever: do not wait on it.
      await withTimeout(system.stop(), 20_000, `${store.label}: stop`);
      await withTimeout(store.dispose(), 10_000, `${store.label}: dispose`);
    }
  }
  printTable(cells);
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'http-commands.json');
  writeFileSync(
    file,
    `${JSON.stringify({ generated_at: new Date().toISOString(), seconds_per_cell: SECONDS, projectors: process.env.BENCH_PROJECTORS ?? 'off', node: process.version, cells }, null, 2)}\n`,
  );
  process.stdout.write(`\nwrote ${file}\n`);
  // Connections of a stalled store may still be open; the figures are written.
  process.exit(0);
}

interface Client {
  post(path: string, body: unknown): Promise<Response>;
  json<T>(path: string, body: unknown, expected: number): Promise<T>;
}

async function client(system: RunningSystem): Promise<Client> {
  const suffix = randomBytes(4).toString('hex');
  const identity = { userId: `bench_user_${suffix}`, orgId: `bench_org_${suffix}`, sessionId: `bench_ses_${suffix}`, deviceId: `bench_dev_${suffix}` };
  const token = (await new TokenService(system.keys).issueAccessToken(identity, 3600)).token;
  const post = (path: string, body: unknown) =>
    fetch(`${system.urls.runtime}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  return {
    post,
    async json<T>(path: string, body: unknown, expected: number): Promise<T> {
      const response = await post(path, body);
      const text = await response.text();
      if (response.status !== expected) throw new Error(`setup ${path}: ${response.status} ${text}`);
      return JSON.parse(text) as T;
    },
  };
}

async function startedRun(api: Client): Promise<string> {
  const { run_id: runId } = await api.json<{ run_id: string }>('/api/runtime/runs', {}, 201);
  await api.json(`/api/runtime/runs/${runId}/frames`, { frames: [{ frame_id: 'start', type: 'run.started', payload: {} }] }, 202);
  return runId;
}

const textFrame = (i: number) => ({ frames: [{ frame_id: `f${i}-${randomUUID().slice(0, 8)}`, type: 'run.text_delta', payload: { text: 'lorem ipsum dolor sit amet' } }] });

const SCENARIOS: Record<string, (api: Client, concurrency: number) => Promise<Call>> = {
  async create_run(api) {
    return () => api.post('/api/runtime/runs', { thread_id: 'bench', metadata: { bench: true } });
  },
  async append_frame(api, concurrency) {
    const runs: string[][] = [];
    for (let lane = 0; lane < concurrency; lane++) {
      runs.push(await Promise.all(Array.from({ length: RUNS_PER_LANE }, () => startedRun(api))));
    }
    return (lane, i) => api.post(`/api/runtime/runs/${runs[lane][i % RUNS_PER_LANE]}/frames`, textFrame(i));
  },
  async append_frame_1run(api) {
    const runId = await startedRun(api);
    return (_lane, i) => api.post(`/api/runtime/runs/${runId}/frames`, textFrame(i));
  },
  async heartbeat(api, concurrency) {
    const workers: string[] = [];
    for (let lane = 0; lane < concurrency; lane++) {
      workers.push((await api.json<{ worker_id: string }>('/api/runtime/codex/workers', { workspace_ref: 'bench', adapter: 'codex' }, 201)).worker_id);
    }
    return (lane) => api.post(`/api/runtime/codex/workers/${workers[lane]}/heartbeat`, {});
  },
};

/** A fixed number of requests in flight: each lane sends its next request when the previous one answers. */
async function measure(store: string, scenario: string, concurrency: number, call: Call): Promise<Cell> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let ok = 0;
  let requests = 0;
  const warmupEnd = performance.now() + WARMUP_SECONDS * 1000;
  const end = warmupEnd + SECONDS * 1000;
  let counter = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < end) {
        const i = counter++;
        const started = performance.now();
        let outcome: string;
        try {
          const response = await call(lane, i);
          const body = await response.text();
          outcome = response.status < 300 ? 'ok' : `${response.status} ${safeCode(body)}`;
        } catch (error) {
          outcome = (error as Error).name === 'TimeoutError' ? 'timeout' : `error ${(error as Error).message}`;
        }
        const finished = performance.now();
        if (started < warmupEnd) continue;
        requests++;
        latencies.push(finished - started);
        if (outcome === 'ok') ok++;
        else errors[outcome] = (errors[outcome] ?? 0) + 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    store,
    scenario,
    concurrency,
    requests,
    ok,
    errors,
    seconds: SECONDS,
    commands_per_second: ok / SECONDS,
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
  };
}

async function withTimeout(work: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      process.stderr.write(`${what} did not finish within ${ms} ms; moving on\n`);
      resolve();
    }, ms);
  });
  await Promise.race([work.catch((error: Error) => process.stderr.write(`${what} failed: ${error.message}\n`)), timedOut]);
  clearTimeout(timer);
}

function safeCode(body: string): string {
  try {
    return String((JSON.parse(body) as { code?: unknown }).code);
  } catch {
    return 'unparsable';
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function printTable(cells: Cell[]) {
  const header = ['store', 'scenario', 'in flight', 'commands/s', 'p50 ms', 'p99 ms', 'ok', 'errors'];
  const rows = cells.map((cell) => [
    cell.store,
    cell.scenario,
    String(cell.concurrency),
    cell.commands_per_second.toFixed(0),
    cell.p50_ms.toFixed(1),
    cell.p99_ms.toFixed(1),
    String(cell.ok),
    Object.entries(cell.errors)
      .map(([kind, count]) => `${kind}×${count}`)
      .join(', ') || '-',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (row: string[]) => row.map((value, column) => value.padEnd(widths[column])).join('  ');
  process.stdout.write(`\nruntime commands over HTTP, ${SECONDS} s per cell, projectors ${process.env.BENCH_PROJECTORS ?? 'off'}\n`);
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

async function freshPostgres(adminUrl: string): Promise<Store> {
  const name = `khala_bench_${randomBytes(4).toString('hex')}`;
  const admin = await Database.connect({ url: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  await admin.close();
  const url = withDatabaseName(adminUrl, name);
  return {
    label: 'postgres',
    databaseUrl: url,
    async dispose() {
      const cleanup = await Database.connect({ url: adminUrl, max: 1 });
      await cleanup.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await cleanup.close();
      process.stderr.write(`dropped ${redactDatabaseUrl(url)}\n`);
    },
  };
}

main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
