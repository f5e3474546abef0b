/**
 * `append-wrk`: the `append` scenario's frame workload driven by a C load generator (Debian's
 * `wrk`), to cross-check that the Node load generator (bench/lib/store/http-load.ts) is not what
 * limits the `append` figures. Same server child, same 200-char text frames, one event per request.
 *
 *   DATABASE_URL=postgres://… npm run bench -- append-wrk [--seconds 10] [--connections 32]
 *
 * wrk keeps `connections` requests in flight on one thread pinned to the load generator's core and
 * reports requests/s and latency percentiles; afterwards every run's stored revisions are checked
 * dense. Skipped (with a note) under --smoke or where wrk is not installed.
 */
import { createScratchDatabase, Database } from '../../libs/platform/src/index';
import { machineDescription } from '../lib/report';
import { NO_VIOLATIONS, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { pinning, spawnJsonChild } from '../lib/store/child-process';
import { FRAMES_SCRIPT, parseWrk, runWrk, wrkMissing } from '../lib/wrk';

async function post(runtime: string, token: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${runtime}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status >= 300) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

const scenario: Scenario = {
  name: 'append-wrk',
  description: 'the append frames workload from wrk (C), a cross-check of the Node load generator',
  options: { seconds: { type: 'string' }, connections: { type: 'string' } },
  async run({ smoke, databaseUrl, args }: ScenarioOptions): Promise<ScenarioResult> {
    const skipped = smoke ? 'skipped under --smoke (a cross-check, not a figure CI needs)' : wrkMissing() ? 'skipped: wrk is not installed (apt-get install -y wrk)' : undefined;
    if (skipped) return { scenario: 'append-wrk', measurements: [], ratios: [], notes: [skipped] };
    const seconds = args.amount('seconds') ?? 10;
    const connections = args.amount('connections') ?? 32;
    const pins = pinning();
    const ours = databaseUrl ? await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_wrk' }) : undefined;
    const server = spawnJsonChild('bench/lib/store/system-server.ts', { cpu: pins.server, env: { DATABASE_URL: ours?.url } });
    try {
      const system = await server.next<{ runtime: string; databaseUrl: string; token: string }>();
      // One started run per connection, so every measured request is a text frame.
      const runs: string[] = [];
      for (let index = 0; index < connections; index++) {
        const { run_id: runId } = await post(system.runtime, system.token, '/api/runtime/runs', { thread_id: 'wrk' });
        await post(system.runtime, system.token, `/api/runtime/runs/${String(runId)}/frames`, { frames: [{ frame_id: 'start', type: 'run.started', payload: {} }] });
        runs.push(String(runId));
      }
      const wrk = (label: string, duration: number) =>
        runWrk({ url: system.runtime, connections, seconds: duration, script: FRAMES_SCRIPT, scriptArgs: [label, system.token, ...runs], cpu: pins.load });
      wrk('warm', 2);
      const output = wrk('measured', seconds);
      process.stderr.write(output);
      const integrity = await denseRevisions(system.databaseUrl, runs);
      return {
        scenario: 'append-wrk',
        machine: machineDescription(),
        measurements: [{ system: 'khala', variant: `connections=${connections} (wrk)`, figures: commandFigures(parseWrk(output)), integrity }],
        ratios: [],
        notes: [`wrk -t1 -c${connections} -d${seconds}s after a 2 s warm-up; ${pins.note}`, 'compare with `append` at concurrency=32 in the same window: close figures mean the Node load generator is not the limit'],
      };
    } finally {
      await server.stop();
      await ours?.drop();
    }
  },
};

/** wrk's report in the `append` scenario's names. */
function commandFigures({ requests_per_s, p50_ms, p90_ms, p99_ms, errors }: ReturnType<typeof parseWrk>): Record<string, number> {
  return { commands_per_s: requests_per_s, p50_ms, p90_ms, p99_ms, errors };
}

/** Every run's revisions are 0..n-1 with no gap or repeat (wrk cannot say which frames it got answered). */
async function denseRevisions(databaseUrl: string, runs: string[]) {
  const db = await Database.connect({ url: databaseUrl, max: 1 });
  try {
    const { rows } = await db.query<{ events: string; top: string; distinct_revisions: string }>(
      `SELECT count(*) AS events, max(revision) AS top, count(DISTINCT revision) AS distinct_revisions
         FROM eventstore.events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id`,
      [runs.map((runId) => `run-${runId}`)],
    );
    const gaps = rows.filter((row) => Number(row.top) + 1 !== Number(row.events)).length;
    const duplicates = rows.filter((row) => row.distinct_revisions !== row.events).length;
    return { ...NO_VIOLATIONS, gaps, duplicates };
  } finally {
    await db.close();
  }
}

export default scenario;
