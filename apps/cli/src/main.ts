#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { CliContext } from './cli-context';
import { esdbCommand } from './commands/esdb.command';
import { eventsCommand } from './commands/events.command';
import { migrateCommand } from './commands/migrate.command';
import { projectionsCommand } from './commands/projections.command';
import { replayCommand } from './commands/replay.command';
import { stateCommand } from './commands/state.command';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { cliVersion } from './version';

/** `oa`: the operators' and analysts' CLI. */
export function buildProgram(context: CliContext): Command {
  const program = new Command('oa')
    .description('Khala operator and analyst CLI')
    .version(cliVersion(), '-V, --version', 'print the version and exit')
    .option('--json', 'machine-readable JSON output')
    .addHelpText('after', EXIT_CODES_HELP)
    .hook('preAction', (command) => {
      context.json = Boolean(command.optsWithGlobals().json);
    });
  program.addCommand(migrateCommand(context));
  program.addCommand(eventsCommand(context));
  program.addCommand(projectionsCommand(context));
  program.addCommand(stateCommand(context));
  program.addCommand(replayCommand(context));
  program.addCommand(esdbCommand(context));
  return program;
}

async function main(): Promise<void> {
  const context = new CliContext();
  await buildProgram(context).parseAsync(process.argv);
  process.exitCode = context.exitCode;
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`oa: ${error.message}\n`);
    process.exitCode = EXIT.failed;
  });
}
