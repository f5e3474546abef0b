/**
 * `append` (benchmarks.md): HTTP command → event store, closed loop at 1, 8 and 32 requests in
 * flight, against two peers with events of the same size, each in a fresh database on the same
 * Postgres server: the raw library append of @event-driven-io/emmett-postgresql 0.42.0, and the
 * same command over HTTP (express 5) in front of that store (emmett-http-server.ts).
 *
 *   DATABASE_URL=postgres://… npm run bench -- append [--smoke] [--seconds 10]
 *
 * Three processes: the system (apps/embedded, projectors off) in one, the HTTP load generator in
 * another, pinned to different cores; the peer's appender runs where our server ran. See
 * bench/lib/store/http-load.ts for the workload and how latency is measured (closed loop, per
 * request). Without DATABASE_URL ours runs on the server's embedded PGlite and the peer is skipped.
 */
import { loadavg } from 'node:os';
import { createScratchDatabase } from '../../libs/platform/src/index';
import { LatencyHistogram, LatencySummary } from '../lib/histogram';
import { machineDescription } from '../lib/report';
import { Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { checkAppendIntegrity } from '../lib/store/append-integrity';
import { checkEmmettStreams } from '../lib/store/emmett-integrity';
import { pinning, processCpuMs, spawnJsonChild } from '../lib/store/child-process';
import type { EmmettAppendConfig, EmmettAppendResult } from '../lib/store/emmett-append';
import type { LoadConfig, LoadResult } from '../lib/store/http-load';

const CONCURRENCY = [1, 8, 32];
const EVENTS_PER_RUN = 50;
const TEXT_BYTES = 200;
/** #16's goal: HTTP commands at least as fast as the peer's raw library appends. */
const TARGET_RATIO = 1.0;
/** …and at least twice the same command over HTTP in front of the peer's store. */
const HTTP_PEER_TARGET = 2.0;

/** The figures ours and the peer report alike for one concurrency level. */
function throughputFigures(
  result: { ok: number; seconds: number; errors: Record<string, number> },
  latency: LatencySummary,
  eventBytes: number,
): Record<string, number> {
  return {
    commands_per_s: result.ok / result.seconds,
    p50_ms: latency.p50_ms,
    p99_ms: latency.p99_ms,
    p999_ms: latency.p999_ms,
    errors: Object.values(result.errors).reduce((a, b) => a + b, 0),
    event_bytes: eventBytes,
  };
}

/**
 * The second peer: the same one-event command over HTTP (express 5) in front of Emmett's store
 * (emmett-http-server.ts), driven by the same load generator; its streams are read back after.
 */
async function measureEmmettHttp(
  serverUrl: string,
  load: { levels: number[]; warmupSeconds: number; seconds: number; eventsPerRun: number; textBytes: number },
  pins: ReturnType<typeof pinning>,
  measurements: Measurement[],
): Promise<void> {
  const database = await createScratchDatabase({ serverUrl, prefix: 'khala_bench_emmett_http' });
  const server = spawnJsonChild('bench/lib/store/emmett-http-server.ts', { cpu: pins.server, args: [JSON.stringify(database.url)] });
  try {
    const { url } = await server.next<{ url: string }>();
    const config: Omit<LoadConfig, 'concurrency'> & { levels: number[] } = { runtime: url, token: '', target: 'emmett-http', ...load };
    const generator = spawnJsonChild('bench/lib/store/http-load.ts', { cpu: pins.load, args: [JSON.stringify(config)] });
    const store = getPostgreSQLEventStore(database.url);
    try {
      for (const concurrency of load.levels) {
        const result = await generator.next<LoadResult>();
        const latency = LatencyHistogram.decode(result.histogram).summary();
        const integrity = await checkEmmettStreams(store, Object.fromEntries(result.runs.map((run) => [run.runId, run.items.length])));
        measurements.push({ system: 'emmett-http', variant: `concurrency=${concurrency}`, figures: throughputFigures(result, latency, 0), integrity });
        process.stderr.write(`  emmett-http @${concurrency}: ${(result.ok / result.seconds).toFixed(0)} commands/s, p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms\n`);
      }
      await generator.stop();
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
    await database.drop();
  }
}

const scenario: Scenario = {
  name: 'append',
  description: 'HTTP command → Postgres event store vs Emmett raw appendToStream, concurrency 1/8/32',
  options: { seconds: { type: 'string' } },
  async run({ smoke, databaseUrl, args }: ScenarioOptions): Promise<ScenarioResult> {
    const seconds = args.amount('seconds') ?? (smoke ? 1.5 : 10);
    const warmupSeconds = smoke ? 0.3 : 2;
    const pins = pinning();
    const loadBefore = loadavg()[0];
    const measurements: Measurement[] = [];
    const notes = [
      `closed loop, ${seconds} s per cell after ${warmupSeconds} s warm-up; latency per request from send to full response (in a closed loop the intended send time is the actual one)`,
      `workload: every request is one command appending one event: a lane creates a run, sends run.started, then one ${TEXT_BYTES}-char run.text_delta frame per request, new run every ${EVENTS_PER_RUN} events; no Idempotency-Key`,
      pins.note,
    ];

    // ---------------------------------------------------------------- ours
    const ours = databaseUrl ? await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_append' }) : undefined;
    // BENCH_CPU_PROF=<dir>: the server child writes a V8 CPU profile there when it exits (open in Chrome DevTools).
    const profileDir = process.env.BENCH_CPU_PROF;
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    if (profileDir) notes.push(`server CPU profile written to ${profileDir} (--cpu-prof; profiling slows the server)`);
    const server = spawnJsonChild('bench/lib/store/system-server.ts', { cpu: pins.server, env: { DATABASE_URL: ours?.url }, nodeArgs });
    let meanEventBytes = 0;
    try {
      const system = await server.next<{ runtime: string; databaseUrl: string; token: string }>();
      notes.push(databaseUrl ? 'khala: Postgres adapter on a fresh database' : 'khala: embedded PGlite (no DATABASE_URL): one transaction at a time');
      const config: Omit<LoadConfig, 'concurrency'> & { levels: number[] } = { runtime: system.runtime, token: system.token, levels: CONCURRENCY, warmupSeconds, seconds, eventsPerRun: EVENTS_PER_RUN, textBytes: TEXT_BYTES };
      const load = spawnJsonChild('bench/lib/store/http-load.ts', { cpu: pins.load, args: [JSON.stringify(config)] });
      let cpuBefore = processCpuMs(server.process.pid);
      let loadCpuBefore = processCpuMs(load.process.pid);
      for (const concurrency of CONCURRENCY) {
        const result = await load.next<LoadResult>();
        // The server's own CPU (user + system, from /proc) over the cell, warm-up included, per
        // command answered in it: unlike commands/s this barely moves with the machine's load.
        const cpuAfter = processCpuMs(server.process.pid);
        const cpuPerCommand = cpuBefore !== undefined && cpuAfter !== undefined && result.answered > 0 ? (cpuAfter - cpuBefore) / result.answered : undefined;
        cpuBefore = cpuAfter;
        // The load generator's too: with one core each, a busy client caps the rate as surely as a busy server.
        const loadCpuAfter = processCpuMs(load.process.pid);
        const loadCpuPerCommand = loadCpuBefore !== undefined && loadCpuAfter !== undefined && result.answered > 0 ? (loadCpuAfter - loadCpuBefore) / result.answered : undefined;
        loadCpuBefore = loadCpuAfter;
        const integrity = await checkAppendIntegrity(system.databaseUrl, result.runs);
        meanEventBytes = integrity.meanEventBytes;
        const latency = LatencyHistogram.decode(result.histogram).summary();
        measurements.push({
          system: 'khala',
          variant: `concurrency=${concurrency}`,
          figures: {
            ...throughputFigures(result, latency, integrity.meanEventBytes),
            ...(cpuPerCommand !== undefined ? { server_cpu_ms_per_command: Number(cpuPerCommand.toFixed(2)) } : {}),
            ...(loadCpuPerCommand !== undefined ? { load_cpu_ms_per_command: Number(loadCpuPerCommand.toFixed(2)) } : {}),
          },
          integrity: { gaps: integrity.gaps, duplicates: integrity.duplicates, reorders: integrity.reorders },
        });
        if (Object.keys(result.errors).length) notes.push(`khala errors at ${concurrency}: ${JSON.stringify(result.errors)}`);
        if (integrity.unacknowledgedStored) notes.push(`khala at ${concurrency}: ${integrity.unacknowledgedStored} stored event(s) whose request timed out (not acknowledged)`);
        const cpuNote = cpuPerCommand !== undefined ? `, server CPU ${cpuPerCommand.toFixed(2)} ms/command, load generator ${loadCpuPerCommand?.toFixed(2)} ms` : '';
        process.stderr.write(`  khala @${concurrency}: ${(result.ok / result.seconds).toFixed(0)} commands/s, p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms${cpuNote}\n`);
      }
      await load.stop();
    } finally {
      await server.stop();
      await ours?.drop();
    }

    // ---------------------------------------------------------------- peer
    const ratios: Ratio[] = [];
    if (!databaseUrl) {
      notes.push('emmett peer skipped: Emmett PostgreSQL needs a real Postgres (set DATABASE_URL)');
    } else {
      const peerDb = await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_emmett' });
      try {
        // Emmett's row carries ~65 bytes of its own (messageId in its metadata, its data keys); pad so the sizes match.
        const textBytes = Math.max(0, meanEventBytes - 65);
        const config: Omit<EmmettAppendConfig, 'concurrency'> & { levels: number[] } = { url: peerDb.url, levels: CONCURRENCY, warmupSeconds, seconds, eventsPerRun: EVENTS_PER_RUN, textBytes, streamPrefix: 'run' };
        const peer = spawnJsonChild('bench/lib/store/emmett-append.ts', { cpu: pins.server, args: [JSON.stringify(config)] });
        for (const concurrency of CONCURRENCY) {
          const result = await peer.next<EmmettAppendResult>();
          const latency = LatencyHistogram.decode(result.histogram).summary();
          measurements.push({
            system: 'emmett',
            variant: `concurrency=${concurrency}`,
            figures: throughputFigures(result, latency, result.meanEventBytes),
            integrity: result.integrity,
          });
          process.stderr.write(`  emmett @${concurrency}: ${(result.ok / result.seconds).toFixed(0)} appends/s, p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms\n`);
        }
        await peer.stop();
      } finally {
        await peerDb.drop();
      }
      await measureEmmettHttp(databaseUrl, { levels: CONCURRENCY, warmupSeconds, seconds, eventsPerRun: EVENTS_PER_RUN, textBytes: Math.max(0, meanEventBytes - 65) }, pins, measurements);
      const at32 = (system: string) => measurements.find((m) => m.system === system && m.variant === 'concurrency=32')!.figures.commands_per_s;
      const value = at32('khala') / at32('emmett');
      ratios.push({ label: 'commands/s at concurrency 32, khala HTTP ÷ emmett raw appendToStream', value, target: `>= ${TARGET_RATIO}`, met: value >= TARGET_RATIO });
      const overHttp = at32('khala') / at32('emmett-http');
      ratios.push({ label: 'commands/s at concurrency 32, khala HTTP ÷ emmett over HTTP (express 5)', value: overHttp, target: `>= ${HTTP_PEER_TARGET}`, met: overHttp >= HTTP_PEER_TARGET });
    }
    notes.push(`1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (a shared machine: compare the ratio, not the absolutes)`);
    return { scenario: 'append', machine: machineDescription(), measurements, ratios, notes };
  },
};

export default scenario;
