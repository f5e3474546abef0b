/**
 * Catch-up of a `$all` subscription from the start over N events already in the store (issue #13
 * item 5): events/s and the subscriber's peak RSS, for the EventStoreDB adapter against the FAKE
 * emulator (in a process of its own, so only the subscriber is measured) and for the Postgres store.
 *
 * The child process of `npm run bench -- esdb-catch-up` (bench/scenarios/esdb-catch-up.ts), one per
 * store, so each subscriber's memory is its own:
 *   npm run ts -- bench/esdb/esdb-catch-up.ts --store=esdb --events=1000000
 *   DATABASE_URL=postgres://… npm run ts -- bench/esdb/esdb-catch-up.ts --store=postgres --events=1000000
 *
 * Seeding is not measured. The emulator is our fake, so its figure bounds the adapter and client
 * library, not a real server's read path.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EsdbEventStore, EventStore, PostgresEventStore } from '../../libs/eventstore/src/index';
import { createScratchDatabase, Database, migrateUp } from '../../libs/platform/src/index';
import { seedKhalaRuns } from '../lib/store/seed-khala-runs';

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

async function catchUp(store: EventStore, total: number): Promise<{ seconds: number; events: number; peakRssMiB: number; rssBeforeMiB: number }> {
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let events = 0;
  const subscription = store.subscribeToAll({ filter: { streamPrefixes: ['bench-', 'run-'] } });
  for await (const message of subscription) {
    if (message.kind === 'event') events += 1;
    if (message.kind === 'caughtUp' || events >= total) break;
  }
  const seconds = (performance.now() - started) / 1000;
  await subscription.close();
  // maxRSS is the process's high-water mark (KiB), whatever moment it was reached at.
  return { seconds, events, peakRssMiB: process.resourceUsage().maxRSS / 1024, rssBeforeMiB: rssBefore / 2 ** 20 };
}

async function esdb(total: number) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'test/esdb-emulator/serve-seeded.ts', String(total)], {
    env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.json' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  const { connectionString } = JSON.parse(line) as { connectionString: string };
  const store = EsdbEventStore.connect(connectionString);
  try {
    return await catchUp(store, total);
  } finally {
    await store.close();
    child.stdin.end();
  }
}

async function postgres(total: number) {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('--store=postgres needs DATABASE_URL');
  const scratch = await createScratchDatabase({ serverUrl, prefix: 'khala_bench_catchup' });
  try {
    const owner = await Database.connect({ url: scratch.url, max: 4 });
    try {
      await migrateUp(owner);
      await seedKhalaRuns(owner, total, 200);
      const store = new PostgresEventStore(owner, { pollIntervalMs: 100 });
      try {
        return await catchUp(store, total);
      } finally {
        await store.close();
      }
    } finally {
      await owner.close();
    }
  } finally {
    await scratch.drop();
  }
}

async function main() {
  const total = Number(option('events', '1000000'));
  const which = option('store', 'esdb');
  const result = which === 'postgres' ? await postgres(total) : await esdb(total);
  const rate = Math.round(result.events / result.seconds);
  process.stdout.write(
    `${JSON.stringify({
      store: which,
      events: result.events,
      seconds: Number(result.seconds.toFixed(2)),
      eventsPerSecond: rate,
      peakRssMiB: Number(result.peakRssMiB.toFixed(1)),
      rssBeforeMiB: Number(result.rssBeforeMiB.toFixed(1)),
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`esdb-catch-up: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
