import { Command } from 'commander';
import { Database, detectSchemaDrift, migrateUp, migrationStatus, redactDatabaseUrl } from '@khala/platform';
import { CliContext } from '../cli-context';
import { EXIT } from '../exit-codes';

/** `oa migrate up|verify|status` (INV-09). verify exits 2 on drift and prints the difference. */
export function migrateCommand(context: CliContext): Command {
  const migrate = new Command('migrate').description('apply and verify the forward-only SQL migrations');

  migrate
    .command('up')
    .description('apply pending migrations (one transaction; safe to run from several processes)')
    .action(() =>
      context.withAdminDatabase(async (db) => {
        const applied = await migrateUp(db);
        context.output({ applied }, applied.length ? `applied ${applied.join(', ')}` : 'already up to date');
      }),
    );

  migrate
    .command('status')
    .description('list applied and pending migrations')
    .action(() =>
      context.withAdminDatabase(async (db) => {
        const status = await migrationStatus(db);
        const summary = { applied: status.applied, pending: status.pending.map((file) => file.version), modified: status.modified, unknown: status.unknown };
        context.output(summary, `applied: ${summary.applied.join(', ') || '-'}\npending: ${summary.pending.join(', ') || '-'}`);
      }),
    );

  migrate
    .command('verify')
    .description('check the ledger and compare the live schema with what the migrations produce (drift check)')
    .action(() =>
      context.withAdminDatabase(async (db: Database, url: string) => {
        const status = await migrationStatus(db);
        const drift = await detectSchemaDrift(db, url);
        const ok =
          status.pending.length === 0 && status.modified.length === 0 && status.unknown.length === 0 &&
          drift.unexpected.length === 0 && drift.missing.length === 0;
        const report = {
          ok,
          database: redactDatabaseUrl(url),
          pending: status.pending.map((file) => file.version),
          modified: status.modified,
          unknown: status.unknown,
          drift,
        };
        const lines = [
          ok ? 'schema matches the migrations' : 'schema does NOT match the migrations',
          ...report.pending.map((version) => `pending migration ${version}`),
          ...report.modified.map((version) => `modified migration ${version}`),
          ...report.unknown.map((version) => `unknown migration ${version}`),
          ...drift.unexpected.map((line) => `+ ${line}   (in the database, not in the migrations)`),
          ...drift.missing.map((line) => `- ${line}   (in the migrations, not in the database)`),
        ];
        context.output(report, lines.join('\n'));
        if (!ok) context.fail(EXIT.attention);
      }),
    );
  return migrate;
}
