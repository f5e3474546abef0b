/**
 * `hot-stream`: many writers on ONE run. Closed loop, one frame per command, no Idempotency-Key:
 * 1 writer and 20 writers through one runtime process, then 20 writers split over two runtime
 * processes on the same database. Reports commands/s, p50/p99, conflicts (409
 * concurrency_conflict) and refused commands (every answer that is not an acknowledgement).
 *
 *   DATABASE_URL=postgres://… npm run bench -- hot-stream [--smoke] [--seconds 10]
 *
 * Processes: our system (apps/embedded, projectors off) in one child, a second one on the same
 * database for the two-process cell, both pinned to the same core (the two-process cell gets the
 * same server CPU as the one-process cells); the load generator (bench/lib/store/hot-stream-load.ts)
 * in another child pinned to the other core. Both systems share signing keys, so one token works
 * on either. Without DATABASE_URL ours runs on the server's embedded PGlite and the two-process
 * cell is skipped (an in-memory PGlite belongs to one process).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { KeyRing, TokenService } from '../../libs/auth/src/index';
import { createScratchDatabase } from '../../libs/platform/src/index';
import { LatencyHistogram } from '../lib/histogram';
import { machineDescription } from '../lib/report';
import { Measurement, Ratio, Scenario, ScenarioOptions, ScenarioResult } from '../lib/scenario';
import { checkAppendIntegrity } from '../lib/store/append-integrity';
import { JsonChild, pinning, spawnJsonChild } from '../lib/store/child-process';
import type { HotStreamCell, HotStreamLoadConfig, HotStreamLoadResult } from '../lib/store/hot-stream-load';

const WRITERS = 20;
const TEXT_BYTES = 200;

interface System {
  runtime: string;
  databaseUrl: string;
}

const scenario: Scenario = {
  name: 'hot-stream',
  description: `${WRITERS} concurrent writers on one run: one runtime process vs 1 writer, and split over two processes`,
  options: { seconds: { type: 'string' } },
  async run({ smoke, databaseUrl, args }: ScenarioOptions): Promise<ScenarioResult> {
    const seconds = args.amount('seconds') ?? (smoke ? 1.5 : 10);
    const warmupSeconds = smoke ? 0.3 : 2;
    const pins = pinning();
    const measurements: Measurement[] = [];
    const notes = [
      `closed loop, ${seconds} s per cell after ${warmupSeconds} s warm-up, a fresh run per cell; each command appends one ${TEXT_BYTES}-char run.text_delta frame with its own frame_id; no Idempotency-Key; a refused command is not retried`,
      pins.note,
    ];

    const keys = KeyRing.generate();
    const suffix = randomBytes(4).toString('hex');
    const identity = {
      userId: `bench_user_${suffix}`,
      orgId: `bench_org_${suffix}`,
      sessionId: `bench_ses_${suffix}`,
      deviceId: `bench_dev_${suffix}`,
    };
    const token = (await new TokenService(keys).issueAccessToken(identity, 3600)).token;
    const database = databaseUrl
      ? await createScratchDatabase({ serverUrl: databaseUrl, prefix: 'khala_bench_hot' })
      : undefined;
    const env = { DATABASE_URL: database?.url, AUTH_SIGNING_KEYS: keys.serialize() };
    const servers: JsonChild[] = [];
    try {
      servers.push(spawnJsonChild('bench/lib/store/system-server.ts', { cpu: pins.server, env }));
      const first = await servers[0].next<System>();
      const runtimes = [first.runtime];
      if (database) {
        // Started after the first has migrated the database, so the two never race the migrations.
        servers.push(spawnJsonChild('bench/lib/store/system-server.ts', { cpu: pins.server, env }));
        runtimes.push((await servers[1].next<System>()).runtime);
      } else {
        notes.push(
          `two-process cell skipped: without DATABASE_URL the system runs on its own in-memory PGlite, which one process owns`,
        );
      }
      notes.push(
        database
          ? 'khala: Postgres adapter on a fresh database'
          : 'khala: embedded PGlite (no DATABASE_URL): one transaction at a time',
      );

      const cells: Array<HotStreamCell & { variant: string }> = [
        { variant: 'writers=1 processes=1', writers: 1, runtimes: runtimes.slice(0, 1) },
        { variant: `writers=${WRITERS} processes=1`, writers: WRITERS, runtimes: runtimes.slice(0, 1) },
        ...(runtimes.length > 1
          ? [{ variant: `writers=${WRITERS} processes=2`, writers: WRITERS, runtimes }]
          : []),
      ];
      const config: HotStreamLoadConfig = { token, cells, warmupSeconds, seconds, textBytes: TEXT_BYTES };
      const load = spawnJsonChild('bench/lib/store/hot-stream-load.ts', {
        cpu: pins.load,
        args: [JSON.stringify(config)],
      });
      for (const { variant } of cells) {
        const loadBefore = loadavg()[0];
        const result = await load.next<HotStreamLoadResult>();
        const integrity = await checkAppendIntegrity(first.databaseUrl, result.lanes);
        const latency = LatencyHistogram.decode(result.histogram).summary();
        const load1 = loadavg()[0];
        measurements.push({
          system: 'khala',
          variant,
          figures: {
            commands_per_s: result.ok / result.seconds,
            p50_ms: latency.p50_ms,
            p99_ms: latency.p99_ms,
            conflicts: result.conflicts,
            refused: result.refused,
            load_avg_1m: Number(((loadBefore + load1) / 2).toFixed(1)),
          },
          integrity: { gaps: integrity.gaps, duplicates: integrity.duplicates, reorders: integrity.reorders },
        });
        if (Object.keys(result.errors).length) notes.push(`${variant}: ${JSON.stringify(result.errors)}`);
        if (integrity.unacknowledgedStored)
          notes.push(
            `${variant}: ${integrity.unacknowledgedStored} stored frame(s) whose request was not acknowledged (timed out)`,
          );
        process.stderr.write(
          `  ${variant}: ${(result.ok / result.seconds).toFixed(0)} commands/s, p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms, conflicts ${result.conflicts}, refused ${result.refused}\n`,
        );
      }
      await load.stop();
    } finally {
      for (const server of servers) await server.stop();
      await database?.drop();
    }

    const figure = (variant: string, name: string) =>
      measurements.find((m) => m.variant === variant)?.figures[name];
    const ratios: Ratio[] = [];
    const single = figure('writers=1 processes=1', 'commands_per_s');
    const many = figure(`writers=${WRITERS} processes=1`, 'commands_per_s');
    if (single !== undefined && many !== undefined) {
      const value = single > 0 ? many / single : 0;
      ratios.push({
        label: `commands/s, ${WRITERS} writers on one run ÷ 1 writer, one process`,
        value,
        target: '>= 1',
        met: value >= 1,
      });
    }
    const conflicts = figure(`writers=${WRITERS} processes=1`, 'conflicts');
    if (conflicts !== undefined)
      ratios.push({
        label: `409 conflicts, ${WRITERS} writers on one run, one process`,
        value: conflicts,
        target: '= 0',
        met: conflicts === 0,
      });
    const refused = figure(`writers=${WRITERS} processes=2`, 'refused');
    if (refused !== undefined)
      ratios.push({
        label: `refused commands, ${WRITERS} writers on one run over two processes`,
        value: refused,
        target: '= 0',
        met: refused === 0,
      });
    notes.push(
      'load_avg_1m: the 1-minute load average around the cell (a shared machine: compare the cells of one run, not absolutes)',
    );
    return { scenario: 'hot-stream', machine: machineDescription(), measurements, ratios, notes };
  },
};

export default scenario;
