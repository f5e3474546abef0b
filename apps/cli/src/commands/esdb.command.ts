import { Command } from 'commander';
import { EVENT_CATEGORIES } from '@khala/contracts';
import { DEFAULT_ESDB_APP_USERS, EsdbAppUsers, setUpEsdbAccess } from '@khala/eventstore';
import { CliContext } from '../cli-context';

/** Where each app user's password comes from (CliEnv, so it stays out of shell history and `ps`). */
export const ESDB_PASSWORD_KEYS: Record<keyof EsdbAppUsers, 'ESDB_CONTROL_PASSWORD' | 'ESDB_RUNTIME_PASSWORD' | 'ESDB_PROJECTOR_PASSWORD'> = {
  control: 'ESDB_CONTROL_PASSWORD',
  runtime: 'ESDB_RUNTIME_PASSWORD',
  projector: 'ESDB_PROJECTOR_PASSWORD',
};

/**
 * `oa esdb setup-acls`: one EventStoreDB/KurrentDB user per app and the stream access that keeps
 * control and runtime apart (docs/deploy.md §6). EVENTSTORE_URL must carry admin credentials.
 */
export function esdbCommand(context: CliContext, passwords?: Partial<Record<(typeof ESDB_PASSWORD_KEYS)[keyof EsdbAppUsers], string>>): Command {
  const esdb = new Command('esdb').description('EventStoreDB/KurrentDB administration');
  esdb
    .command('setup-acls')
    .description(
      'create (or update) the control, runtime and projector users and write their stream access: ' +
        'stream policies per category in $policies (switched on in $authorization-policy-settings), ' +
        'default ACLs in $settings and $all’s ACL. Needs EVENTSTORE_URL with admin credentials and ' +
        `${Object.values(ESDB_PASSWORD_KEYS).join(', ')}`,
    )
    .option('--control-user <login>', 'control’s user', DEFAULT_ESDB_APP_USERS.control)
    .option('--runtime-user <login>', 'runtime’s user', DEFAULT_ESDB_APP_USERS.runtime)
    .option('--projector-user <login>', 'the projector worker’s user', DEFAULT_ESDB_APP_USERS.projector)
    .option('--no-stream-policies', 'ACLs only (servers without the licensed stream policy plugin; control and runtime are then not kept apart)')
    .action(async (options: { controlUser: string; runtimeUser: string; projectorUser: string; streamPolicies: boolean }) => {
      const adminUrl = context.env.EVENTSTORE_URL;
      if (!adminUrl) throw new Error('EVENTSTORE_URL is not set (an admin connection string: esdb+discover://admin:…@host:2113?tls=true&tlsCAFile=…)');
      const environment = passwords ?? context.env;
      const missing = Object.values(ESDB_PASSWORD_KEYS).filter((key) => !environment[key]);
      if (missing.length) throw new Error(`set ${missing.join(', ')} (each app user's password)`);
      const result = await setUpEsdbAccess({
        adminUrl,
        categories: EVENT_CATEGORIES,
        users: { control: options.controlUser, runtime: options.runtimeUser, projector: options.projectorUser },
        passwords: {
          control: environment[ESDB_PASSWORD_KEYS.control]!,
          runtime: environment[ESDB_PASSWORD_KEYS.runtime]!,
          projector: environment[ESDB_PASSWORD_KEYS.projector]!,
        },
        streamPolicies: options.streamPolicies,
      });
      const lines = [
        ...result.users.map((user) => `user ${user.login}: ${user.outcome}`),
        `wrote ${result.streams.join(', ')}`,
        result.streamPolicies
          ? 'stream policies on: each app writes only its own categories'
          : 'ACLs only: the projector cannot write, but control and runtime are NOT kept apart (needs stream policies)',
        'give each app its own EVENTSTORE_URL with its user (docs/deploy.md §6)',
      ];
      context.output(result, lines.join('\n'));
    });
  return esdb;
}
