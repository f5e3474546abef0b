import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyRing, TokenService } from '@khala/auth';
import { Database } from '@khala/platform';
import { freshIdentity } from '../support/system';
import { describeOnPostgres, usePrivateDatabase } from '../support/test-database';
import { CommandLoad, SoakOrg } from './support/command-load';
import { MiB, percentile, round, slope, table } from './support/figures';
import { HttpClient } from './support/http-client';
import { ServerProcess } from './support/server-process';
import { LIVE_TOPICS, LiveSubscriber, SubscriberChurn } from './support/subscribers';

/**
 * Soak: the whole system as one real server process (apps/embedded/src/main.ts, from source) under
 * a steady mixed load for SOAK_SECONDS (60 in the normal run; SOAK_SECONDS=600 for the long form):
 * HTTP commands (runs, frames, cancels, worker heartbeats and events), snapshot reads and bad
 * requests at SOAK_RATE per second; long-lived WebSocket subscribers applying every update; and
 * subscriber churn (connect, replay from a recent cursor, leave politely or drop the TCP connection).
 *
 * It asserts leak behaviour and delivery, never timings: heap growth after warm-up, descriptors
 * and Postgres connections back to their idle baseline once clients leave, no listener-leak
 * warnings, no sockets left in the gateway, and every acknowledged command delivered to the
 * subscribers with dense watermarks. Latency percentiles are printed and written to
 * test/soak/results/ only.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const RATE = Number(process.env.SOAK_RATE ?? 30);
const ORGS = 4;
const CHURN_LANES = 3;

/**
 * Heap growth bound, MiB per minute, fitted over the second half of the load on the server's heap
 * after two forced full GCs at every sample.
 *
 * Why this number: even with no leak, heap-after-GC keeps rising for minutes under load, because V8
 * keeps compiled code, type feedback and compiled-regexp caches (dropped only under memory pressure
 * or by the collection a heap snapshot does). In our 60 s runs on a loaded 2-core machine that was
 * 2.5–5.5 MiB/min, and 7.8–7.9 MiB/min on a quiet machine (which completes more of the load in the
 * same minute), decelerating; a heap-snapshot diff of such a run (SOAK_HEAP_SNAPSHOTS=1, at 20 s
 * and 57 s) showed the retained object graph flat (+50 KiB). The CI bound therefore sits above that
 * warm-up: 14 MiB/min still fails a leak of ~8 KiB per command at 30 commands/s (a retained request
 * or response) or of ~80 KiB per WebSocket session at ~3 sessions/s (a socket's buffers and state).
 * The long form (SOAK_SECONDS ≥ 300) is past code warm-up when it measures, but the gateway's topic
 * feeds (windows of encoded rows per (topic, org), apps/khala-gateway/src/sync/topic-feeds.ts) keep
 * filling for minutes: 600 s runs measured 1.4 and 2.7 MiB/min of heap, and 1.75 after the windows'
 * row JSON was capped at about 1 MiB each. External Buffers grew 3.6 → 106 MiB over 600 s: every
 * chunk of a feed's window cached its finished frame per join_ref; chunks (and their frames) now
 * exist for a feed's newest read only (reported below as external idle → end; not asserted). It
 * asserts 4 MiB/min of heap, which still catches ~2 KiB per command.
 */
const HEAP_GROWTH_LIMIT_MIB_PER_MIN = SECONDS >= 300 ? 4 : 14;
/**
 * What a quiet server may hold beyond its idle baseline. Leaks grow with the work done (~170 churned
 * sockets, ~1,500 commands per CI run), so a per-session or per-request leak of a descriptor or a
 * Postgres connection (a pool or LISTEN client per subscriber) lands far above these; a pool client
 * not released shows up earlier still, as pool exhaustion (unexpected 503s). The slack covers what
 * legitimately varies at rest: the pg pools' background pollers keep a varying few clients warm
 * (baseline 14–18 connections in our runs), plus an epoll/timer descriptor or two.
 */
const FD_SLACK = 6;
const PG_SLACK = 4;

interface Sample {
  t: number;
  heapMiB: number;
  rssMiB: number;
  /** Memory outside the V8 heap held by JS objects (Buffers, ArrayBuffers): where RSS growth without heap growth lives. */
  externalMiB: number;
  fds: number;
  pgConnections: number;
  spacesMiB: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last !== undefined) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

// Embedded PGlite is one session in the test process: no server-side connection counts to check.
describeOnPostgres('measures a server process against real Postgres: connections, descriptors')('soak: whole system under steady mixed load', () => {
  let database: { url: string; release(): Promise<void> };
  let server: ServerProcess | undefined;
  let admin: Database | undefined;
  let keys: KeyRing;
  /** Whatever the test started, so a failure mid-run still stops every client. */
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    database = await usePrivateDatabase();
    admin = await Database.connect({ url: database.url, max: 1 });
    keys = KeyRing.generate();
    server = await ServerProcess.start({ DATABASE_URL: database.url, AUTH_SIGNING_KEYS: keys.serialize() });
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    await server?.stop();
    await admin?.close();
    await database?.release();
  }, 60_000);

  const pgConnections = async () =>
    Number(
      (
        await admin!.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        )
      ).rows[0].n,
    );

  /** Who holds the connections: for reading a failed connection check. */
  const pgConnectionDetail = async () =>
    (
      await admin!.query<{ application_name: string; state: string; query: string; n: string }>(
        `SELECT application_name, state, left(query, 80) AS query, count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1, 2, 3 ORDER BY 4 DESC`,
      )
    ).rows;

  const sample = async (t0: number): Promise<Sample> => {
    const probe = await server!.probe();
    return {
      t: (Date.now() - t0) / 1000,
      heapMiB: probe.heapUsedBytes / MiB,
      rssMiB: probe.rssBytes / MiB,
      externalMiB: probe.externalBytes / MiB,
      fds: server!.openFds(),
      pgConnections: await pgConnections(),
      spacesMiB: Object.fromEntries(Object.entries(probe.spaces).map(([space, bytes]) => [space, round(bytes / MiB)])),
    };
  };

  it(
    `holds memory, descriptors and connections flat and delivers every acknowledged command (${SECONDS} s at ${RATE}/s)`,
    async () => {
      const srv = server!;
      const tokens = new TokenService(keys);
      const orgs: SoakOrg[] = [];
      for (let i = 0; i < ORGS; i++) {
        const identity = freshIdentity();
        orgs.push({
          orgId: identity.orgId,
          accessToken: (await tokens.issueAccessToken(identity, SECONDS + 3600)).token,
          syncToken: (await tokens.issueSyncToken(identity, LIVE_TOPICS, SECONDS + 3600)).token,
        });
      }
      const wsBase = `${srv.urls.gateway.replace('http', 'ws')}/sync/socket/websocket`;
      const socketUrl = (orgId: string, token?: string) =>
        `${wsBase}?vsn=2.0.0&token=${encodeURIComponent(token ?? orgs.find((org) => org.orgId === orgId)!.syncToken)}`;

      // Idle baseline: the server as started, before any client. Background pollers hold a varying
      // few pool connections, so the baseline is the most seen over a few seconds at rest.
      await sleep(3000);
      const t0 = Date.now();
      const idle = await sample(t0);
      for (let i = 0; i < 4; i++) {
        await sleep(1000);
        const next = await sample(t0);
        idle.fds = Math.max(idle.fds, next.fds);
        idle.pgConnections = Math.max(idle.pgConnections, next.pgConnections);
      }
      const idleHandles = (await srv.probe()).activeHandles;
      const pgIdleDetail = await pgConnectionDetail();

      const http = new HttpClient();
      cleanups.push(() => http.close());
      const load = new CommandLoad(http, srv.urls, orgs);
      const lives = orgs.map((org) => new LiveSubscriber(socketUrl(org.orgId), org.orgId));
      cleanups.push(() => Promise.all(lives.map((live) => live.stop())));
      await Promise.all(lives.map((live) => live.start()));
      const recentRunOf = (orgId: string) => {
        const live = lives.find((l) => l.orgId === orgId)!;
        const runs = [...live.tracker.docs.keys()].filter((key) => key.startsWith('run_summary:')).slice(-20);
        return runs.length ? runs[Math.floor(Math.random() * runs.length)].slice('run_summary:'.length) : undefined;
      };
      const churn = new SubscriberChurn(socketUrl, lives, recentRunOf);
      cleanups.push(() => churn.stop());

      const samples: Sample[] = [];
      const sampleEveryMs = Math.max(2000, (SECONDS * 1000) / 40);
      const loadEnds = Date.now() + SECONDS * 1000;
      let sampling = true;
      cleanups.push(() => (sampling = false));
      const sampler = (async () => {
        while (sampling) {
          // A probe that times out (the machine is starved) is a missing point, not a failure.
          await sample(t0).then((s) => samples.push(s), () => undefined);
          await sleep(sampleEveryMs);
        }
      })();
      churn.start(CHURN_LANES);
      const snapshots = process.env.SOAK_HEAP_SNAPSHOTS ? join(__dirname, 'results') : undefined;
      if (snapshots) {
        mkdirSync(snapshots, { recursive: true });
        setTimeout(() => void srv.heapSnapshot(join(snapshots, 'mid.heapsnapshot')), (SECONDS * 1000) / 3);
        setTimeout(() => void srv.heapSnapshot(join(snapshots, 'late.heapsnapshot')), SECONDS * 1000 - 3000);
      }
      await load.run(RATE, loadEnds);
      await churn.stop();
      sampling = false;
      await sampler;

      // Every acknowledged command reaches the live subscriber of its org.
      const expectedRunEvents = (run: { runId: string; ackedRevision: number }) =>
        Array.from({ length: run.ackedRevision + 1 }, (_, i) => `run_event:${run.runId}:${i + 1}`);
      const missing = () => {
        const absent: string[] = [];
        for (const run of load.runs.values()) {
          const docs = lives.find((live) => live.orgId === run.orgId)!.tracker.docs;
          for (const key of expectedRunEvents(run)) if (!docs.has(key)) absent.push(key);
          if ((docs.get(`run_summary:${run.runId}`) ?? 0) < run.ackedRevision + 1) absent.push(`run_summary:${run.runId}@${run.ackedRevision + 1}`);
        }
        for (const worker of load.workers.values()) {
          const docs = lives.find((live) => live.orgId === worker.orgId)!.tracker.docs;
          const key = `codex_worker_summary:${worker.workerId}`;
          if ((docs.get(key) ?? 0) < worker.ackedRevision + 1) absent.push(`${key}@${worker.ackedRevision + 1}`);
        }
        return absent;
      };
      const drainStarted = Date.now();
      let stillMissing: string[] = [];
      await until(
        'acknowledged commands to reach subscribers',
        () => ((stillMissing = missing()).length === 0 ? true : undefined),
        60_000,
      ).catch(() => undefined);
      const drainSeconds = (Date.now() - drainStarted) / 1000;

      // Clients leave; the server must give back what they held.
      await Promise.all(lives.map((live) => live.stop()));
      http.close();
      const gatewayConnections = async () => {
        const metrics = await (await fetch(`${srv.urls.gateway}/metrics`)).text();
        return Number(/^khala_gateway_connections(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN);
      };
      // Leaked descriptors and connections stay held; pooled ones come and go with the pollers. So the
      // figure is the least seen while waiting (pg pools close clients idle for 10 s).
      const settled = await sample(t0);
      await until(
        'descriptors and Postgres connections to return to the idle baseline',
        async () => {
          const now = await sample(t0);
          settled.fds = Math.min(settled.fds, now.fds);
          settled.pgConnections = Math.min(settled.pgConnections, now.pgConnections);
          settled.heapMiB = now.heapMiB;
          settled.rssMiB = now.rssMiB;
          settled.externalMiB = now.externalMiB;
          return settled.fds <= idle.fds + FD_SLACK && settled.pgConnections <= idle.pgConnections + PG_SLACK ? true : undefined;
        },
        30_000,
      ).catch(() => undefined);
      const openSockets = await gatewayConnections();
      const pgDetail = await pgConnectionDetail();
      const endHandles = (await srv.probe()).activeHandles;

      const afterWarmup = samples.filter((s) => s.t >= SECONDS / 2);
      const heapSlope = slope(afterWarmup.map((s) => ({ x: s.t / 60, y: s.heapMiB })));
      const rssSlope = slope(afterWarmup.map((s) => ({ x: s.t / 60, y: s.rssMiB })));
      const allLatencies = [...load.latencies.values()].flat();
      const tracker = (key: 'gaps' | 'duplicates') => lives.reduce((sum, live) => sum + live.tracker[key], 0);
      const warnings = srv.stderr.split('\n').filter((line) => /Warning/.test(line));
      const figures = {
        seconds: SECONDS,
        rate_per_second: RATE,
        commands: { ...load.counts, unexpected: load.unexpectedCount, runs: load.runs.size, workers: load.workers.size },
        latency_ms: {
          all: { p50: percentile(allLatencies, 50), p99: percentile(allLatencies, 99), n: allLatencies.length },
          ...Object.fromEntries(
            [...load.latencies].map(([op, values]) => [op, { p50: percentile(values, 50), p99: percentile(values, 99), n: values.length }]),
          ),
        },
        subscribers: {
          live: lives.length,
          updates_applied: lives.reduce((sum, live) => sum + [...live.tracker.last.values()].reduce((a, b) => a + b, 0), 0),
          reconnects: lives.reduce((sum, live) => sum + live.reconnects, 0),
          gaps: tracker('gaps'),
          duplicates: tracker('duplicates'),
          missing_acknowledged: stillMissing.length,
          drain_seconds: drainSeconds,
          churn_sessions: churn.sessions,
          churn_abrupt_disconnects: churn.abrupt,
          churn_refused_as_expected: churn.refused,
          churn_updates_checked: churn.updates,
          churn_problems: churn.problemCount,
        },
        memory: {
          heap_idle_mib: idle.heapMiB,
          heap_end_mib: settled.heapMiB,
          heap_slope_mib_per_min_after_warmup: heapSlope,
          heap_limit_mib_per_min: HEAP_GROWTH_LIMIT_MIB_PER_MIN,
          rss_idle_mib: idle.rssMiB,
          rss_max_mib: Math.max(...samples.map((s) => s.rssMiB)),
          rss_end_mib: settled.rssMiB,
          rss_slope_mib_per_min_after_warmup: rssSlope,
          external_idle_mib: idle.externalMiB,
          external_end_mib: settled.externalMiB,
        },
        descriptors: { idle: idle.fds, max: Math.max(...samples.map((s) => s.fds)), end: settled.fds, slack: FD_SLACK },
        postgres_connections: {
          idle: idle.pgConnections,
          max: Math.max(...samples.map((s) => s.pgConnections)),
          end: settled.pgConnections,
          idle_detail: pgIdleDetail,
          end_detail: pgDetail,
        },
        active_handles: { idle: idleHandles, end: endHandles },
        gateway_open_sockets_end: openSockets,
        problems: {
          commands: load.unexpected,
          churn: churn.problems,
          live: lives.flatMap((live) => live.tracker.problems.concat(live.errorPushes)),
        },
        warnings,
        samples: samples.map((s) => ({ ...s, heapMiB: round(s.heapMiB), rssMiB: round(s.rssMiB), externalMiB: round(s.externalMiB) })),
      };
      const lat = (op: string) => {
        const entry = (figures.latency_ms as Record<string, { p50: number; p99: number; n: number }>)[op];
        return entry ? `p50 ${round(entry.p50, 1)} ms  p99 ${round(entry.p99, 1)} ms  (n ${entry.n})` : '-';
      };
      console.log(
        table(`soak: ${SECONDS} s at ${RATE} ops/s, ${ORGS} orgs, ${CHURN_LANES} churn lanes (server pid ${srv.pid})`, [
          ['commands sent / acknowledged', `${load.counts.sent} / ${load.counts.acknowledged}`],
          ['expected errors / unexpected / shed', `${load.counts.expectedErrors} / ${load.unexpectedCount} / ${load.counts.shed}`],
          ['latency all acknowledged', lat('all')],
          ...[...load.latencies.keys()].map((op): [string, string] => [`latency ${op}`, lat(op)]),
          ['heap idle → end (MiB)', `${round(idle.heapMiB)} → ${round(settled.heapMiB)}`],
          ['heap slope after warm-up', `${round(heapSlope)} MiB/min (limit ${HEAP_GROWTH_LIMIT_MIB_PER_MIN})`],
          ['rss idle → max → end (MiB)', `${round(idle.rssMiB)} → ${round(figures.memory.rss_max_mib)} → ${round(settled.rssMiB)}`],
          ['rss slope after warm-up (not asserted)', `${round(rssSlope)} MiB/min`],
          ['external (Buffers) idle → end (MiB)', `${round(idle.externalMiB)} → ${round(settled.externalMiB)}`],
          ['fds idle → max → end', `${idle.fds} → ${figures.descriptors.max} → ${settled.fds}`],
          ['pg connections idle → max → end', `${idle.pgConnections} → ${figures.postgres_connections.max} → ${settled.pgConnections}`],
          ['active handles idle → end', `${idleHandles} → ${endHandles}`],
          ['gateway sockets at end', openSockets],
          ['live updates applied / reconnects', `${figures.subscribers.updates_applied} / ${figures.subscribers.reconnects}`],
          ['gaps / duplicates / missing acks', `${figures.subscribers.gaps} / ${figures.subscribers.duplicates} / ${stillMissing.length}`],
          ['churn sessions (abrupt) / refused ok / problems', `${churn.sessions} (${churn.abrupt}) / ${churn.refused} / ${churn.problemCount}`],
          ['drain after load (s)', drainSeconds],
          ['warnings in server stderr', warnings.length],
        ]),
      );
      const dir = join(__dirname, 'results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `soak-${SECONDS}s-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(figures, null, 2));

      expect(load.unexpected).toEqual([]);
      expect(churn.problems).toEqual([]);
      expect(lives.flatMap((live) => live.tracker.problems)).toEqual([]);
      expect(stillMissing.slice(0, 10)).toEqual([]);
      // The soak did soak (floors far below any machine's throughput; nothing here is a timing claim).
      expect(load.counts.acknowledged).toBeGreaterThan(SECONDS * 2);
      expect(churn.sessions).toBeGreaterThan(SECONDS / 2);
      expect(warnings.filter((line) => line.includes('MaxListenersExceededWarning'))).toEqual([]);
      expect(openSockets).toBe(0);
      expect(settled.fds).toBeLessThanOrEqual(idle.fds + FD_SLACK);
      expect(settled.pgConnections).toBeLessThanOrEqual(idle.pgConnections + PG_SLACK);
      expect(heapSlope).toBeLessThan(HEAP_GROWTH_LIMIT_MIB_PER_MIN);
    },
    (SECONDS + 300) * 1000,
  );
});
