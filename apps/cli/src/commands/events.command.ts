import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { Database } from '@khala/platform';
import { EventStore, RecordedEvent } from '@khala/eventstore';
import { CliContext, withEventStore } from '../cli-context';
import { CSV_COLUMNS, eventToCsvRow, eventToJson, parsePosition } from '../event-format';
import { Progress } from '../progress';

interface SelectionOptions {
  all?: boolean;
  category?: string[];
  type?: string[];
  fromPosition?: string;
  fromRevision?: string;
  since?: string;
  until?: string;
  limit?: string;
  backwards?: boolean;
}

/** `oa events read|export`: a stream, a category or $all, filtered, streamed in constant memory. */
export function eventsCommand(context: CliContext): Command {
  const events = new Command('events').description('read and export event streams (analysts)');

  withSelection(events.command('read').description('print events as ndjson'))
    .argument('[stream]', 'a stream name such as run-<id>; omit with --all')
    .action((stream: string | undefined, options: SelectionOptions) =>
      withEventStore(context, async (store) => {
        let count = 0;
        for await (const event of selectEvents(store, stream, options)) {
          await write(process.stdout, `${JSON.stringify(eventToJson(event))}\n`);
          count++;
        }
        if (count === 0) process.stderr.write('no events matched\n');
      }),
    );

  withSelection(events.command('export').description('export events to a file (ndjson or csv) with progress'))
    .argument('[stream]', 'a stream name such as run-<id>; omit with --all')
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'csv']).default('ndjson'))
    .requiredOption('--out <file>', 'where to write ("-": stdout carries only the events; progress and the summary go to stderr)')
    .action((stream: string | undefined, options: SelectionOptions & { format: 'ndjson' | 'csv'; out: string }) =>
      withEventStore(context, async (store, db) => {
        const total = db && !stream && !options.since && !options.until ? await countEvents(db, options) : undefined;
        const out = options.out === '-' ? process.stdout : createWriteStream(options.out);
        const progress = new Progress('export', total);
        let count = 0;
        if (options.format === 'csv') await write(out, `${CSV_COLUMNS.join(',')}\n`);
        for await (const event of selectEvents(store, stream, options)) {
          await write(out, options.format === 'csv' ? `${eventToCsvRow(event)}\n` : `${JSON.stringify(eventToJson(event))}\n`);
          count++;
          progress.tick();
        }
        progress.finish();
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
        const summary = { exported: count, out: options.out };
        const text = `exported ${count} events to ${options.out === '-' ? 'stdout' : options.out}`;
        // With --out -, stdout is the data: the summary must not become its last line.
        if (out === process.stdout) context.notice(summary, text);
        else context.output(summary, text);
      }),
    );
  return events;
}

function withSelection(command: Command): Command {
  return command
    .option('--all', 'read $all instead of one stream')
    .option('--category <category...>', 'with --all: stream categories (e.g. run, codexWorker)')
    .option('--type <type...>', 'with --all: event types (e.g. RunStarted)')
    .option('--from-position <commit/prepare>', 'with --all: start after this position')
    .option('--from-revision <n>', 'for a stream: start at this revision')
    .option('--since <iso>', 'only events created at or after this time')
    .option('--until <iso>', 'only events created before this time')
    .option('--limit <n>', 'at most this many events')
    .option('--backwards', 'newest first');
}

async function* selectEvents(store: EventStore, stream: string | undefined, options: SelectionOptions): AsyncIterable<RecordedEvent> {
  if (!stream && !options.all) throw new Error('name a stream, or pass --all');
  const since = options.since ? parseTime(options.since, '--since') : undefined;
  const until = options.until ? parseTime(options.until, '--until') : undefined;
  const limit = options.limit === undefined ? undefined : parseCount(options.limit);
  const timeFiltered = since !== undefined || until !== undefined;
  const direction = options.backwards ? 'backwards' : 'forwards';
  const source = stream
    ? store.readStream(stream, {
        direction,
        fromRevision: options.fromRevision === undefined ? undefined : BigInt(parseCount(options.fromRevision)),
        maxCount: timeFiltered ? undefined : limit,
      })
    : store.readAll({
        direction,
        fromPosition: options.fromPosition ? parsePosition(options.fromPosition) : undefined,
        maxCount: timeFiltered ? undefined : limit,
        filter: {
          streamPrefixes: options.category?.map((category) => `${category}-`),
          eventTypes: options.type,
        },
      });
  let yielded = 0;
  for await (const event of source) {
    const created = event.created.getTime();
    if (since !== undefined && created < since) continue;
    if (until !== undefined && created >= until) continue;
    yield event;
    if (limit !== undefined && ++yielded >= limit) return;
  }
}

async function countEvents(db: Database, options: SelectionOptions): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) FROM eventstore.events
      WHERE ($1::text[] IS NULL OR category = ANY($1)) AND ($2::text[] IS NULL OR event_type = ANY($2))`,
    [options.category ?? null, options.type ?? null],
  );
  const count = Number(rows[0].count);
  return options.limit ? Math.min(count, parseCount(options.limit)) : count;
}

/** Waits for drain when the destination is full: memory stays flat however many events flow. */
async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

function parseTime(value: string, flag: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new Error(`${flag} must be an ISO 8601 time, got ${JSON.stringify(value)}`);
  return time;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
