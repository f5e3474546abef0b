/**
 * Appends per second on the Postgres event store for 1, 8 and 32 concurrent writers, each writer
 * appending one event at a time to its own stream with an exact expected revision (what a command
 * handler does). Prints figures; asserts nothing.
 *
 *   npm run bench:append-store                                   # embedded PGlite, in memory
 *   DATABASE_URL=postgres://… npm run bench:append-store         # a fresh database on that server
 *   BENCH_SECONDS=10 npm run bench:append-store                  # longer runs (default 5 s each)
 */
import { randomBytes } from 'node:crypto';
import {
  Database,
  migrateUp,
  quoteIdentifier,
  redactDatabaseUrl,
  startEmbeddedPostgres,
  withDatabaseName,
} from '../libs/platform/src/index';
import { deterministicEventId } from '../libs/eventstore/src/event-id';
import { PostgresEventStore } from '../libs/eventstore/src/postgres/postgres-event-store';

const WRITER_COUNTS = [1, 8, 32];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

interface Target {
  label: string;
  url: string;
  dispose(): Promise<void>;
}

async function openTarget(): Promise<Target> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: 'memory' });
    return { label: 'PGlite (embedded, in memory; one transaction at a time)', url: embedded.url, dispose: () => embedded.stop() };
  }
  const name = `khala_bench_${randomBytes(4).toString('hex')}`;
  const admin = await Database.connect({ url: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  await admin.close();
  const url = withDatabaseName(adminUrl, name);
  return {
    label: `Postgres ${redactDatabaseUrl(url)}`,
    url,
    async dispose() {
      const cleanup = await Database.connect({ url: adminUrl, max: 1 });
      await cleanup.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await cleanup.close();
    },
  };
}

async function runWriters(store: PostgresEventStore, writers: number, runId: string) {
  const latenciesMs: number[] = [];
  const stopAt = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      const stream = `bench${runId}-w${writers}x${writer}`;
      for (let revision = -1n; performance.now() < stopAt; revision++) {
        const begin = performance.now();
        await store.append(
          stream,
          [
            {
              id: deterministicEventId(`${stream}#${revision}`, 0),
              type: 'BenchAppended',
              data: { writer, revision: revision.toString(), padding: 'x'.repeat(200) },
              metadata: { correlation_id: stream, causation_id: stream, actor: 'bench', schema_version: 1 },
            },
          ],
          { expectedRevision: revision < 0n ? 'no_stream' : revision },
        );
        latenciesMs.push(performance.now() - begin);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const percentile = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor((p / 100) * latenciesMs.length))];
  return { appends: latenciesMs.length, perSecond: latenciesMs.length / elapsedS, p50: percentile(50), p99: percentile(99) };
}

async function main(): Promise<void> {
  const target = await openTarget();
  const db = await Database.connect({ url: target.url, max: Math.max(...WRITER_COUNTS) + 2 });
  try {
    await migrateUp(db);
    const store = new PostgresEventStore(db);
    const runId = randomBytes(3).toString('hex');
    console.log(`append bench on ${target.label}: ${SECONDS} s per run, 1 event per append, exact expected revision, one stream per writer`);
    console.log('writers  appends   appends/s   p50 ms   p99 ms');
    for (const writers of WRITER_COUNTS) {
      const result = await runWriters(store, writers, runId);
      console.log(
        `${String(writers).padStart(7)}  ${String(result.appends).padStart(7)}  ${result.perSecond.toFixed(0).padStart(10)}  ${result.p50
          .toFixed(2)
          .padStart(7)}  ${result.p99.toFixed(2).padStart(7)}`,
      );
    }
  } finally {
    await db.close();
    await target.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
