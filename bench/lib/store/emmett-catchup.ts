/**
 * Child process of the `projection` benchmark: the peer. An Emmett PostgreSQL consumer
 * (postgreSQLEventStoreConsumer) with one projector whose projection does, per batch, the
 * equivalent of our run summary upsert (one insert per RunCreated, one update per frame event,
 * executed as Emmett's raw-SQL batch projections do), from the beginning until no messages are
 * left (its stopWhen.noMessagesLeft) or `maxSeconds` pass. Counts the global positions it was handed, to find gaps and duplicates.
 * Prints {seconds, events, peakRssMiB, gaps, duplicates, reorders}.
 */
import { sql } from '@event-driven-io/dumbo';
import { postgreSQLEventStoreConsumer, postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import { reply } from './child-process';

export interface EmmettCatchupConfig {
  url: string;
  batch: number;
  maxSeconds: number;
}

const TYPES = ['RunCreated', 'RunStarted', 'RunTextDelta', 'RunFinished'];
type RunEvent = { type: string; data: Record<string, unknown> };

async function main({ url, batch, maxSeconds }: EmmettCatchupConfig) {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const seen = new Set<bigint>();
  let handed = 0;
  let reorders = 0;
  let last = -1n;
  const consumer = postgreSQLEventStoreConsumer({ connectionString: url, pulling: { batchSize: batch }, stopWhen: { noMessagesLeft: true } });
  consumer.projector<RunEvent>({
    processorId: 'bench_run_summaries',
    projection: postgreSQLProjection<RunEvent>({
      name: 'bench_run_summaries',
      canHandle: TYPES,
      handle: async (events, context) => {
        const statements = events.map((event) => {
          const position = BigInt(event.metadata.globalPosition);
          handed += 1;
          if (position <= last) reorders += 1;
          last = position;
          seen.add(position);
          const data = event.data;
          return event.type === 'RunCreated'
            ? sql(
                `INSERT INTO bench_run_summaries (run_id, org_id, status, frame_count, created_at, updated_at, document)
                 VALUES (%L, %L, 'created', 0, %L, %L, %L) ON CONFLICT (run_id) DO NOTHING`,
                data.run_id, data.org_id, data.occurred_at, data.occurred_at, JSON.stringify(data),
              )
            : sql(
                `UPDATE bench_run_summaries SET frame_count = frame_count + 1, updated_at = %L,
                        status = CASE %L WHEN 'RunStarted' THEN 'running' WHEN 'RunFinished' THEN 'succeeded' ELSE status END
                  WHERE run_id = %L`,
                data.occurred_at, event.type, data.run_id,
              );
        });
        await context.execute.batchCommand(statements);
      },
    }),
  });
  const started = performance.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void consumer.stop();
  }, maxSeconds * 1000);
  const progress = setInterval(() => process.stderr.write(`  emmett: ${handed.toLocaleString()} events projected\n`), 10_000);
  await consumer.start();
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  clearInterval(progress);
  clearInterval(sampler);
  await consumer.close();
  return {
    seconds,
    events: handed,
    timedOut,
    peakRssMiB: peakRss / 2 ** 20,
    // Emmett's global positions are a gapless sequence here (one seeding writer, no rollbacks), so
    // a position missing inside the range handed over is an event the consumer skipped.
    gaps: seen.size ? Number(max(seen) - min(seen) + 1n) - seen.size : 0,
    duplicates: handed - seen.size,
    reorders,
  };
}

const min = (values: Set<bigint>) => [...values].reduce((a, b) => (b < a ? b : a));
const max = (values: Set<bigint>) => [...values].reduce((a, b) => (b > a ? b : a));

main(JSON.parse(process.argv[2]) as EmmettCatchupConfig).then(
  (result) => {
    reply(result);
    process.exit(0);
  },
  (error: Error) => {
    process.stderr.write(`emmett-catchup: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
