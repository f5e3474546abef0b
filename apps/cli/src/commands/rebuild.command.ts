import { Command } from 'commander';
import { measureBacklog, rebuildProjection, rebuildResumePoint, rebuildStream } from '@khala/projections';
import { CliContext, withStoreAndDatabase } from '../cli-context';
import { EXIT } from '../exit-codes';
import { CliError, tableProjection } from '../projections/catalog';
import { Progress } from '../progress';

export function rebuildCommand(context: CliContext): Command {
  return new Command('rebuild')
    .description(
      'blue/green rebuild into shadow tables while the live projection keeps serving; atomic swap, one journal row per changed document. ' +
        `Resumable: exits ${EXIT.interrupted} when interrupted; run it again to continue. Exits 0 once swapped.`,
    )
    .argument('<name>', 'run_summaries | run_events | codex_worker_summaries | codex_worker_events')
    .option(
      '--reset',
      "instead of journaling differences, move the topics' retention floor so clients re-bootstrap (stale_cursor)",
    )
    .option('--stream <stream>', 'rebuild one entity, e.g. run-123 (no shadow table; one transaction)')
    .option('--batch-size <n>', 'events per shadow transaction', '2000')
    .option('--stop-after-batches <n>', 'stop (resumably) after this many catch-up batches')
    .action(
      (
        name: string,
        options: { reset?: boolean; stream?: string; batchSize: string; stopAfterBatches?: string },
      ) =>
        withStoreAndDatabase(context, async (store, db) => {
          const projection = tableProjection(name);
          const batchSize = count(options.batchSize, '--batch-size');
          if (options.stream) {
            const result = await rebuildStream(store, db, projection, options.stream, Boolean(options.reset));
            context.output(
              result,
              `${name} ${options.stream}: ${result.events_applied} events, ${result.changed_documents} changed documents, ${result.journal_rows} journal rows`,
            );
            return;
          }
          const from = await rebuildResumePoint(db, name);
          const total = (await measureBacklog(store, db, projection().filter, from)).events;
          const progress = new Progress(`rebuild ${name}`, total);
          let interrupted = false;
          const onSignal = () => {
            interrupted = true;
          };
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            const result = await rebuildProjection(store, db, projection, {
              reset: Boolean(options.reset),
              batchSize,
              stopAfterBatches:
                options.stopAfterBatches === undefined
                  ? undefined
                  : count(options.stopAfterBatches, '--stop-after-batches'),
              onProgress: (events) => progress.tick(events),
              shouldStop: () => interrupted,
            });
            progress.finish();
            const summary =
              result.status === 'swapped'
                ? `${name} rebuilt${result.resumed ? ' (resumed)' : ''}: ${result.events_applied} events, ${result.changed_documents} changed documents, ` +
                  `${result.removed_documents} removed, ${result.journal_rows} journal rows${options.reset ? `, ${result.reset_topics} topics reset` : ''}`
                : `${name} rebuild interrupted at ${result.checkpoint ?? 'the start'}; run the same command again to resume`;
            context.output(result, summary);
            if (result.status !== 'swapped') context.fail(EXIT.interrupted);
          } finally {
            process.removeListener('SIGINT', onSignal);
            process.removeListener('SIGTERM', onSignal);
          }
        }),
    );
}

function count(value: string, flag: string): number {
  if (!/^[1-9]\d*$/.test(value))
    throw new CliError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
