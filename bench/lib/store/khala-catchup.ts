/**
 * Child process of the `projection` benchmark: one ProjectorRunner (run_summaries, as the runtime
 * runs it) from an empty checkpoint over the seeded store, timed until its checkpoint has passed
 * every event. Prints {seconds, events, batches, peakRssMiB}.
 */
import pino from 'pino';
import { PostgresEventStore } from '../../../libs/eventstore/src/index';
import { APP_ROLES, Database } from '../../../libs/platform/src/index';
import { ProjectorRunner, RunSummariesProjection } from '../../../libs/projections/src/index';
import { reply } from './child-process';

export interface CatchupConfig {
  url: string;
  events: number;
  batch: number;
}

async function main({ url, events: total, batch }: CatchupConfig) {
  const db = await Database.connect({ url, max: 4, role: APP_ROLES.runtime, applicationName: 'bench-projection' });
  const store = new PostgresEventStore(db, { pollIntervalMs: 100 });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  let committed = 0;
  let batches = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const started = performance.now();
  const runner = new ProjectorRunner(store, db, new RunSummariesProjection(), pino({ level: 'warn' }), {
    maxBatchSize: batch,
    onCommit: (info) => {
      committed += info.events;
      if (info.events) batches += 1;
      if (committed >= total) done();
    },
  });
  runner.start();
  const progress = setInterval(() => process.stderr.write(`  khala: ${committed.toLocaleString()} events projected\n`), 10_000);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  clearInterval(sampler);
  await runner.stop();
  await db.close();
  return { seconds, events: committed, batches, peakRssMiB: peakRss / 2 ** 20 };
}

main(JSON.parse(process.argv[2]) as CatchupConfig).then(
  (result) => {
    reply(result);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`khala-catchup: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
