/**
 * Our system under test in its own process: control + runtime (with its projectors) + gateway via
 * `startSystem`, on a fresh database (a new database on DATABASE_URL's server, dropped at the
 * end; else embedded PGlite). The load generator drives it over IPC: mint tokens, commit journal
 * rows directly (the gateway-only scenarios), read its CPU and RSS.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import * as path from 'node:path';
import { TokenService } from '../../../libs/auth/src/index';
import { createScratchDatabase, Database, redactDatabaseUrl, ScratchDatabase } from '../../../libs/platform/src/index';
import { appendJournalBatch, encodeDocument, notifyJournalAppended } from '../../../libs/projections/src/index';
import { RunningSystem, startSystem } from '../../../apps/embedded/src/embedded';
import { benchDocument } from './documents';
import { ownStats, ProcessStats, serveRpc, ServerProcess } from './processes';

export interface KhalaEndpoints {
  wsUrl: string;
  runtimeUrl: string;
  store: string;
}

export interface OrgTokens {
  orgId: string;
  syncToken: string;
  accessToken: string;
}

export interface PublishRequest {
  orgId: string;
  topic: string;
  /** Watermark-ordered documents n = first .. first + count - 1 (see benchDocument). */
  first: number;
  count: number;
  rowsPerTx: number;
}

/** Parent-side handle of the khala server process. */
export class KhalaServer {
  private constructor(
    readonly process: ServerProcess,
    readonly endpoints: KhalaEndpoints,
  ) {}

  /**
   * layout 'worker': the production layout, runtime's projectors in a projector-worker process of
   * their own (started by the server process, not pinned) instead of inside the server.
   */
  static async start(options: { databaseUrl?: string; env?: Record<string, string>; layout?: 'all-in-one' | 'worker' }): Promise<KhalaServer> {
    const flags = ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
    const server = ServerProcess.start(__filename, { nodeFlags: flags });
    try {
      const endpoints = await server.call<KhalaEndpoints>('start', { databaseUrl: options.databaseUrl, env: options.env ?? {}, layout: options.layout ?? 'all-in-one' });
      return new KhalaServer(server, endpoints);
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  tokens(orgIds: string[], topics: string[]): Promise<OrgTokens[]> {
    return this.process.call('tokens', { orgIds, topics });
  }

  publish(request: PublishRequest): Promise<void> {
    return this.process.call('publish', request);
  }

  projectorPickup(orgId: string): Promise<number[]> {
    return this.process.call('projectorPickup', { orgId });
  }

  /** Peak pool use per pg pool since the last call. */
  poolPressure(): Promise<PoolPressure[]> {
    return this.process.call('poolPressure');
  }

  statements(): Promise<[string, number][]> {
    return this.process.call('statements');
  }

  /** Event-loop delay of the server process since the last call (ms). */
  loopDelay(): Promise<LoopDelay> {
    return this.process.call('loopDelay');
  }

  /** Transactions committed in the server's database so far (pg_stat_database.xact_commit; flushed about once a second). */
  commits(): Promise<number> {
    return this.process.call('commits');
  }

  stats(collectGarbage = false): Promise<ProcessStats> {
    return this.process.call('stats', { gc: collectGarbage });
  }

  stop(): Promise<void> {
    return this.process.stop(60_000);
  }
}

// ------------------------------------------------------------------------------------ child side

/**
 * Every pg pool of the server process, found by wrapping Pool#connect, so a run can report how many
 * queries waited for a connection (a saturated pool is queueing latency, not CPU).
 */
function trackPools(): { sample(): void; take(): PoolPressure[]; statements(): [string, number][] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client, Pool } = require('pg') as typeof import('pg');
  const pools = new Set<InstanceType<typeof Pool>>();
  const maxima = new Map<InstanceType<typeof Pool>, PoolPressure>();
  const connect = Pool.prototype.connect as (...args: unknown[]) => unknown;
  // Diagnostic knob (not a setting of the system): BENCH_POOL_MAX overrides every pool's size.
  const overrideMax = Number(process.env.BENCH_POOL_MAX ?? 0);
  Pool.prototype.connect = function (this: InstanceType<typeof Pool>, ...args: unknown[]) {
    if (overrideMax > 0 && !pools.has(this)) (this as unknown as { options: { max: number } }).options.max = overrideMax;
    pools.add(this);
    return connect.apply(this, args);
  } as typeof Pool.prototype.connect;
  // Statement counts per pool (first 80 characters of the SQL), for "where do a command's round trips go".
  // Counted on Client#query, which pool queries and transaction clients (BEGIN … COMMIT) both go through.
  const statements = new Map<string, number>();
  const query = Client.prototype.query as (...args: unknown[]) => unknown;
  Client.prototype.query = function (this: InstanceType<typeof Client>, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '?');
    const name = (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters?.application_name ?? 'unnamed';
    const key = `${name}: ${text.replace(/\s+/g, ' ').trim().slice(0, 80)}`;
    statements.set(key, (statements.get(key) ?? 0) + 1);
    return query.apply(this, args);
  } as typeof Client.prototype.query;
  return {
    statements() {
      const result = [...statements].sort((a, b) => b[1] - a[1]);
      statements.clear();
      return result;
    },
    sample() {
      for (const pool of pools) {
        const options = (pool as unknown as { options: { application_name?: string; max?: number } }).options;
        const entry = maxima.get(pool) ?? { pool: options.application_name ?? 'unnamed', max: options.max ?? 10, peakWaiting: 0, peakBusy: 0, samplesWaiting: 0, samples: 0 };
        entry.peakWaiting = Math.max(entry.peakWaiting, pool.waitingCount);
        entry.peakBusy = Math.max(entry.peakBusy, pool.totalCount - pool.idleCount);
        entry.samples++;
        if (pool.waitingCount > 0) entry.samplesWaiting++;
        maxima.set(pool, entry);
      }
    },
    take() {
      const result = [...maxima.values()];
      maxima.clear();
      return result;
    },
  };
}

export interface LoopDelay {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface PoolPressure {
  pool: string;
  max: number;
  peakWaiting: number;
  peakBusy: number;
  /** Samples (every 10 ms) in which some query waited for a connection, of all samples. */
  samplesWaiting: number;
  samples: number;
}

function child(): void {
  const pools = trackPools();
  setInterval(() => pools.sample(), 10).unref();
  let system: RunningSystem | undefined;
  let scratch: ScratchDatabase | undefined;
  let db: Database | undefined;
  let tokens: TokenService | undefined;
  let worker: ChildProcess | undefined;
  let loop: IntervalHistogram | undefined;

  serveRpc({
    async start(args: { databaseUrl?: string; env: Record<string, string>; layout: 'all-in-one' | 'worker' }): Promise<KhalaEndpoints> {
      scratch = args.databaseUrl ? await createScratchDatabase({ serverUrl: args.databaseUrl, prefix: 'khala_bench' }) : undefined;
      if (args.layout === 'worker' && !scratch) throw new Error('the projector-worker layout needs DATABASE_URL (leases are Postgres advisory locks)');
      system = await startSystem({
        ...process.env,
        DATA_DIR: 'memory',
        DATABASE_URL: scratch?.url,
        CONTROL_PORT: '0',
        RUNTIME_PORT: '0',
        KHALA_PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        GATEWAY_RATE_LIMIT_BURST: '1000',
        ...(args.layout === 'worker' ? { RUNTIME_PROJECTORS: 'off' } : {}),
        ...args.env,
      });
      if (args.layout === 'worker') worker = await startProjectorWorker(system.databaseUrl);
      loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      tokens = new TokenService(system.keys);
      db = await Database.connect({ url: system.databaseUrl, max: 2 });
      return {
        wsUrl: `${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket`,
        runtimeUrl: system.urls.runtime,
        store: scratch ? `postgres (${redactDatabaseUrl(scratch.url)})` : 'pglite (embedded)',
      };
    },

    async tokens(args: { orgIds: string[]; topics: string[] }): Promise<OrgTokens[]> {
      return Promise.all(
        args.orgIds.map(async (orgId) => {
          const identity = { userId: `user_${orgId}`, orgId, sessionId: `session_${orgId}`, deviceId: `device_${orgId}` };
          return {
            orgId,
            syncToken: (await tokens!.issueSyncToken(identity, args.topics, 900)).token,
            accessToken: (await tokens!.issueAccessToken(identity, 900)).token,
          };
        }),
      );
    },

    async publish(request: PublishRequest): Promise<void> {
      for (let i = 0; i < request.count; i += request.rowsPerTx) {
        await db!.transaction(async (tx) => {
          const rows = [];
          for (let j = i; j < Math.min(request.count, i + request.rowsPerTx); j++) {
            const n = request.first + j;
            rows.push({ topic: request.topic, orgId: request.orgId, docKey: `bench:${n}`, docVersion: 1, encoded: encodeDocument(JSON.parse(benchDocument(n))) });
          }
          await appendJournalBatch(tx, rows);
          await notifyJournalAppended(tx);
        });
      }
    },

    /** Where a command's latency went before the gateway: event append → journal row of the run summary (ms, per run). */
    async projectorPickup(args: { orgId: string }): Promise<number[]> {
      const { rows } = await db!.query<{ ms: number }>(
        `SELECT extract(epoch FROM (j.committed_at - e.created_at)) * 1000 AS ms
           FROM khala.journal j JOIN eventstore.events e ON e.stream_id = 'run-' || substring(j.doc_key FROM 'run_summary:(.*)') AND e.revision = 0
          WHERE j.topic = 'runtime.run_summaries' AND j.org_id = $1`,
        [args.orgId],
      );
      return rows.map((row) => Number(row.ms));
    },

    poolPressure(): PoolPressure[] {
      return pools.take();
    },

    /** Pool statements since the last call, most frequent first (transaction clients are not counted). */
    statements(): [string, number][] {
      return pools.statements();
    },

    stats(args: { gc: boolean }): ProcessStats {
      return ownStats(args.gc);
    },

    loopDelay(): LoopDelay {
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      const result = loop ? { p50_ms: ms(loop.percentile(50)), p99_ms: ms(loop.percentile(99)), max_ms: ms(loop.max) } : { p50_ms: NaN, p99_ms: NaN, max_ms: NaN };
      loop?.reset();
      return result;
    },

    async commits(): Promise<number> {
      const { rows } = await db!.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
      return Number(rows[0]?.n ?? NaN);
    },

    async stop(): Promise<void> {
      if (worker && worker.exitCode === null) {
        const exited = new Promise((resolve) => worker!.once('exit', resolve));
        worker.kill('SIGTERM');
        await exited;
      }
      await db?.close();
      await system?.stop();
      await scratch?.drop();
    },
  });
}

/** apps/runtime/src/projector-worker.ts on the server's database; resolves once its runners started. */
async function startProjectorWorker(databaseUrl: string): Promise<ChildProcess> {
  const root = path.resolve(__dirname, '../../..');
  const worker = spawn(process.execPath, ['-r', '@swc-node/register', path.join(root, 'apps/runtime/src/projector-worker.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', NODE_ENV: process.env.NODE_ENV ?? 'production', PROJECTOR_WORKER_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    worker.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"started"')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`projector-worker exited with ${code} before it started`)));
  });
  worker.stdout!.resume();
  return worker;
}

if (require.main === module) child();

