import { Command } from 'commander';
import { Decider, DomainEvent } from '@khala/eventstore';
import { tryRead } from '@khala/projections';
import { CliContext, withEventStore } from '../cli-context';
import { EXIT } from '../exit-codes';
import { CliError } from '../projections/catalog';
import { codexWorkerDecider } from '../../../runtime/src/codex-workers/domain/codex-worker.decider';
import { runDecider } from '../../../runtime/src/runs/domain/run.decider';
import { apiTokenDecider } from '../../../control/src/api-tokens/domain/api-token.decider';
import { userDecider } from '../../../control/src/identity/domain/user.decider';
import { orgDecider } from '../../../control/src/orgs/domain/org.decider';
import { sessionDecider } from '../../../control/src/sessions/domain/session.decider';

type AnyDecider = Decider<unknown, DomainEvent, unknown>;

/** The decider that owns each stream category (the part of the stream name before the first '-'). */
const DECIDERS: Record<string, AnyDecider> = {
  run: runDecider as unknown as AnyDecider,
  codexWorker: codexWorkerDecider as unknown as AnyDecider,
  org: orgDecider as unknown as AnyDecider,
  user: userDecider as unknown as AnyDecider,
  session: sessionDecider as unknown as AnyDecider,
  apiToken: apiTokenDecider as unknown as AnyDecider,
};

interface UnreadableEvent {
  revision: string;
  event_id: string;
  type: string;
  reason: string;
}

/**
 * `oa state <stream> [--at-revision N] [--skip-unreadable]`: the entity's state folded by its own
 * decider. Each event is read through its contract first, as projections read it: an event the
 * contract refuses (unknown type, unreadable schema_version, data not of its message) stops the
 * fold with exit 1 naming it, rather than printing a state built from a shape the decider was not
 * written for; --skip-unreadable folds past such events and lists them.
 */
export function stateCommand(context: CliContext): Command {
  return new Command('state')
    .description("fold a stream with its category's decider and print the state as JSON")
    .argument('<stream>', 'e.g. run-<id>, codexWorker-<id>, org-<id>')
    .option('--at-revision <n>', 'fold events up to and including this revision')
    .option('--skip-unreadable', 'fold past events their contract refuses, listing them (stderr; `unreadable` with --json)')
    .action((stream: string, options: { atRevision?: string; skipUnreadable?: boolean }) =>
      withEventStore(context, async (store) => {
        const category = stream.slice(0, stream.indexOf('-'));
        const decider = DECIDERS[category];
        if (stream.indexOf('-') <= 0 || !decider)
          throw new CliError(
            `no decider for stream ${JSON.stringify(stream)}; categories: ${Object.keys(DECIDERS).join(', ')}`,
          );
        if (options.atRevision !== undefined && !/^\d+$/.test(options.atRevision))
          throw new CliError(`--at-revision must be a non-negative integer`);
        const until = options.atRevision === undefined ? undefined : BigInt(options.atRevision);
        let state = decider.initialState();
        let revision: bigint | undefined;
        const unreadable: UnreadableEvent[] = [];
        for await (const recorded of store.readStream(stream)) {
          if (until !== undefined && recorded.revision > until) break;
          const { event, error } = tryRead(recorded);
          if (error) {
            const refused = { revision: recorded.revision.toString(), event_id: recorded.id, type: recorded.type, reason: error.message };
            if (!options.skipUnreadable) {
              const before = recorded.revision > 0n ? `; --at-revision ${recorded.revision - 1n} folds up to the event before it` : '';
              throw new CliError(
                `event ${refused.event_id} at revision ${refused.revision} of ${stream} cannot be read: ${refused.reason}` +
                  ` (oa events read ${stream} shows it as stored${before}; --skip-unreadable folds past it)`,
              );
            }
            unreadable.push(refused);
            process.stderr.write(`skipped unreadable event ${refused.event_id} at revision ${refused.revision}: ${refused.reason}\n`);
          } else {
            state = decider.evolve(state, { type: event.type, data: event.data });
          }
          revision = recorded.revision;
        }
        if (revision === undefined) {
          // --json keeps its parseable answer on stdout; the text is a message, so it goes to stderr.
          const empty = { stream, revision: null, state: null };
          if (context.json) context.output(empty, '');
          else context.notice(empty, `stream ${stream} has no events`);
          context.fail(EXIT.failed);
          return;
        }
        const result = { stream, revision: revision.toString(), state, ...(unreadable.length ? { unreadable } : {}) };
        process.stdout.write(
          `${JSON.stringify(context.json ? result : state, jsonSafe, context.json ? undefined : 2)}\n`,
        );
      }),
    );
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
