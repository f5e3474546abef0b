import { Command } from 'commander';
import { Position } from '@khala/eventstore';
import { applyEvents, measureBacklog, readPage } from '@khala/projections';
import { OWNED_SCHEMAS, quoteIdentifier } from '@khala/platform';
import { CliContext, withStoreAndDatabase } from '../cli-context';
import { CliError, tableProjection } from '../projections/catalog';
import { Progress } from '../progress';

/**
 * `oa replay --projection <name> --into <schema>`: runs a projection over history into a scratch
 * schema for analysis. Production tables and the journal are never written (journal off, own
 * table, own checkpoint in <schema>.replay_checkpoints, so a replay resumes and can be re-run).
 */
export function replayCommand(context: CliContext): Command {
  return new Command('replay')
    .description('project history into a scratch schema (never touches production tables or the journal)')
    .requiredOption(
      '--projection <name>',
      'run_summaries | run_events | codex_worker_summaries | codex_worker_events',
    )
    .requiredOption('--into <schema>', 'scratch schema (created if missing)')
    .option('--fresh', 'drop what an earlier replay left in the scratch table and start over')
    .option('--batch-size <n>', 'events per transaction', '2000')
    .action((options: { projection: string; into: string; fresh?: boolean; batchSize: string }) =>
      withStoreAndDatabase(context, async (store, db) => {
        const schema = options.into;
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
          throw new CliError(`--into must be a lower-case identifier, got ${JSON.stringify(schema)}`);
        if (
          [...OWNED_SCHEMAS, 'khala_rebuild', 'public', 'pg_catalog', 'information_schema'].includes(schema)
        ) {
          throw new CliError(`refusing to replay into ${schema}: choose a scratch schema`);
        }
        if (!/^[1-9]\d*$/.test(options.batchSize))
          throw new CliError('--batch-size must be a positive integer');
        const build = tableProjection(options.projection);
        const live = build();
        const table = `${quoteIdentifier(schema)}.${live.model.table.split('.')[1]}`;
        const scratch = build({ table, journal: false });
        await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
        if (options.fresh) await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.query(
          `CREATE TABLE IF NOT EXISTS ${table} (LIKE ${live.model.table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
        );
        const checkpoints = `${quoteIdentifier(schema)}.replay_checkpoints`;
        await db.query(
          `CREATE TABLE IF NOT EXISTS ${checkpoints} (projection text PRIMARY KEY, commit_position bigint NOT NULL, prepare_position bigint NOT NULL, events bigint NOT NULL)`,
        );
        if (options.fresh)
          await db.query(`DELETE FROM ${checkpoints} WHERE projection = $1`, [options.projection]);
        const stored = await db.query<{ commit_position: string; prepare_position: string; events: string }>(
          `SELECT commit_position, prepare_position, events FROM ${checkpoints} WHERE projection = $1`,
          [options.projection],
        );
        let position: Position | undefined = stored.rows[0] && {
          commit: BigInt(stored.rows[0].commit_position),
          prepare: BigInt(stored.rows[0].prepare_position),
        };
        const progress = new Progress(
          `replay ${options.projection}`,
          (await measureBacklog(store, db, live.filter, position)).events,
        );
        const batchSize = Number(options.batchSize);
        let applied = 0;
        let dropped = 0;
        for (;;) {
          const page = await readPage(store, live.filter, position, batchSize);
          if (page.length === 0) break;
          const next = page[page.length - 1].position;
          await db.transaction(async (tx) => {
            dropped += (await applyEvents(tx, scratch, page, options.projection)).dropped.length;
            await tx.query(
              `INSERT INTO ${checkpoints} (projection, commit_position, prepare_position, events) VALUES ($1, $2, $3, $4)
               ON CONFLICT (projection) DO UPDATE SET commit_position = EXCLUDED.commit_position, prepare_position = EXCLUDED.prepare_position,
                 events = ${checkpoints}.events + EXCLUDED.events`,
              [options.projection, next.commit.toString(), next.prepare.toString(), page.length],
            );
          });
          position = next;
          applied += page.length;
          progress.tick(page.length);
          if (page.length < batchSize) break;
        }
        progress.finish();
        const rows = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
        const result = {
          projection: options.projection,
          table: `${schema}.${live.model.table.split('.')[1]}`,
          events_applied: applied,
          dropped_events: dropped,
          rows,
          checkpoint: position ? `${position.commit}/${position.prepare}` : null,
        };
        context.output(
          result,
          `replayed ${applied} events of ${options.projection} into ${result.table} (${rows} rows)`,
        );
      }),
    );
}
