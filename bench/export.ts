/**
 * Export benchmark (issue 7): N events in the Postgres event store, `oa events export --all
 * --format ndjson` as a child process, its peak RSS sampled from /proc/<pid>/status (VmHWM), then
 * the round trip: the exported file's count and sha256 over "<event_id> <position>" lines equal
 * the same computed from eventstore.events in commit order.
 *
 *   npm run build && DATABASE_URL=postgres://... npm run bench:export -- [--events 1000000] [--source] [--keep]
 *
 * Seeding is a bulk INSERT ... SELECT generate_series (runs of 50 events), not the command path.
 * Runs in a fresh database that is dropped afterwards (unless --keep).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Database, migrateUp, quoteIdentifier, withDatabaseName } from '@khala/platform';
import { BenchArgs, parseBenchArgs } from './lib/args';

const OPTIONS = { events: { type: 'string' }, source: { type: 'boolean' }, keep: { type: 'boolean' } } as const;

async function seed(db: Database, total: number): Promise<void> {
  const chunk = 100_000;
  for (let from = 0; from < total; from += chunk) {
    const to = Math.min(total, from + chunk) - 1;
    await db.query(
      `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
       SELECT md5('export' || i)::uuid, 'run-bench_' || (i / 50), 'run', i % 50,
              CASE WHEN i % 50 = 0 THEN 'RunCreated' ELSE 'RunTextDelta' END,
              jsonb_build_object('run_id', 'bench_' || (i / 50), 'org_id', 'org_bench_' || (i / 50 % 10), 'frame_id', 'frame-' || i,
                                 'occurred_at', '2026-01-01T00:00:00.000Z', 'payload', jsonb_build_object('text', 'token ' || i)),
              jsonb_build_object('correlation_id', 'corr-' || (i / 50), 'schema_version', 1)
         FROM generate_series($1::bigint, $2::bigint) AS i ORDER BY i`,
      [from, to],
    );
  }
  await db.query(`INSERT INTO eventstore.streams (stream_id, category, revision)
                  SELECT stream_id, 'run', max(revision) FROM eventstore.events GROUP BY stream_id`);
  await db.query('ANALYZE eventstore.events');
}

/** Count and sha256 over "<event_id> <commit>/<prepare>\n" in commit order, read by keyset pages. */
async function storeDigest(db: Database): Promise<{ count: number; sha256: string }> {
  const hash = createHash('sha256');
  let count = 0;
  let after: [string, string] = ['0', '0'];
  for (;;) {
    const { rows } = await db.query<{ event_id: string; tx: string; position: string }>(
      `SELECT event_id::text, transaction_id::text AS tx, position::text FROM eventstore.events
        WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint) ORDER BY events.transaction_id, events.position LIMIT 50000`,
      after,
    );
    if (rows.length === 0) break;
    for (const row of rows) hash.update(`${row.event_id} ${row.tx}/${row.position}\n`);
    count += rows.length;
    after = [rows[rows.length - 1].tx, rows[rows.length - 1].position];
  }
  return { count, sha256: hash.digest('hex') };
}

async function fileDigest(file: string): Promise<{ count: number; sha256: string }> {
  const hash = createHash('sha256');
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line) continue;
    const event = JSON.parse(line) as { id: string; position: string };
    hash.update(`${event.id} ${event.position}\n`);
    count += 1;
  }
  return { count, sha256: hash.digest('hex') };
}

function vmHwmKiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function exportAll(url: string, out: string, fromSource: boolean): Promise<{ seconds: number; peakRssMiB: number; code: number | null }> {
  const root = join(__dirname, '..');
  const started = performance.now();
  // The installed `oa` bin is the compiled dist (npm run build); --source runs the TypeScript through
  // @swc-node/register instead, whose in-process compiler alone adds ~90 MiB of RSS.
  const entry = fromSource
    ? ['-r', '@swc-node/register', join(root, 'apps/cli/src/main.ts')]
    : [join(root, 'dist/apps/cli/src/main.js')];
  if (!fromSource && !existsSync(entry[0])) throw new Error('dist/apps/cli/src/main.js is missing: npm run build (or pass --source)');
  process.stdout.write(`oa: node ${entry.join(' ')}\n`);
  const child = spawn(process.execPath, [...entry, 'events', 'export', '--all', '--format', 'ndjson', '--out', out], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, SWC_NODE_PROJECT: join(root, 'tsconfig.json') },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, vmHwmKiB(child.pid!) ?? 0);
  }, 100);
  let lastProgress = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = chunk.toString().trim().split('\n');
    lastProgress = lines[lines.length - 1];
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  clearInterval(sampler);
  if (lastProgress) process.stdout.write(`last progress line: ${lastProgress}\n`);
  return { seconds: (performance.now() - started) / 1000, peakRssMiB: peak / 1024, code };
}

async function main(args: BenchArgs): Promise<void> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL (a real Postgres) is required');
  const total = args.integer('events', 1_000_000);
  const name = `khala_bench_export_${Date.now().toString(36)}`;
  const admin = await Database.connect({ url: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  const url = withDatabaseName(adminUrl, name);
  const db = await Database.connect({ url, max: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'oa-export-'));
  const out = join(dir, 'events.ndjson');
  try {
    await migrateUp(db);
    const seedStarted = performance.now();
    await seed(db, total);
    process.stdout.write(`seeded ${total.toLocaleString()} events in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s\n`);
    const run = await exportAll(url, out, args.flag('source'));
    if (run.code !== 0) throw new Error(`oa events export exited ${run.code}`);
    const [exported, stored] = await Promise.all([fileDigest(out), storeDigest(db)]);
    const ok = exported.count === stored.count && exported.sha256 === stored.sha256;
    process.stdout.write(
      [
        `exported ${exported.count.toLocaleString()} events (${(statSync(out).size / 2 ** 20).toFixed(0)} MiB ndjson) in ${run.seconds.toFixed(1)} s: ${Math.round(exported.count / run.seconds).toLocaleString()} events/s (process start included)`,
        `peak RSS of the oa process (VmHWM): ${run.peakRssMiB.toFixed(1)} MiB (limit 200 MiB: ${run.peakRssMiB < 200 ? 'ok' : 'EXCEEDED'})`,
        `round trip: count ${exported.count} vs store ${stored.count}; sha256 ${exported.sha256.slice(0, 16)}… vs ${stored.sha256.slice(0, 16)}… → ${ok ? 'equal' : 'DIFFERENT'}`,
      ].join('\n') + '\n',
    );
    if (!ok || run.peakRssMiB >= 200) process.exitCode = 2;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.close();
    if (!args.flag('keep')) await admin.query(`DROP DATABASE ${quoteIdentifier(name)} WITH (FORCE)`);
    await admin.close();
  }
}

void Promise.resolve()
  .then(() => main(parseBenchArgs(process.argv.slice(2), OPTIONS).args))
  .catch((error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  });
