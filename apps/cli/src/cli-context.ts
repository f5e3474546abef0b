import { EsdbEventStore, EventStore, PostgresEventStore } from '@khala/eventstore';
import { Database, loadEnv } from '@khala/platform';
import { CliEnv } from './cli.env';
import { EmbeddedDatabase, openEmbeddedDatabase } from './embedded-database';
import { EXIT, ExitCode } from './exit-codes';

/**
 * What every command needs: the admin database (DATABASE_URL, or the embedded PGlite in DATA_DIR,
 * through the server that owns it when one runs: see openEmbeddedDatabase),
 * output as text or JSON, and exit codes scripts can rely on (see exit-codes.ts).
 */
export class CliContext {
  json = false;
  exitCode: ExitCode = EXIT.ok;
  private loadedEnv?: CliEnv;

  /** Validated on first use, so `oa --help` works whatever the environment holds. */
  get env(): CliEnv {
    this.loadedEnv ??= loadEnv(CliEnv);
    return this.loadedEnv;
  }

  /** The command's result, on stdout. */
  output(data: unknown, text: string): void {
    process.stdout.write(this.render(data, text));
  }

  /**
   * A summary of a command whose stdout already carries its data (`--out -`), or a message about
   * a failure: on stderr, so stdout stays parseable.
   */
  notice(data: unknown, text: string): void {
    process.stderr.write(this.render(data, text));
  }

  fail(code: ExitCode): void {
    this.exitCode = code;
  }

  private render(data: unknown, text: string): string {
    return this.json ? `${JSON.stringify(data, bigintReplacer)}\n` : `${text}\n`;
  }

  async withAdminDatabase<T>(work: (db: Database, url: string) => Promise<T>): Promise<T> {
    let embedded: EmbeddedDatabase | undefined;
    let url = this.env.DATABASE_URL;
    if (!url) {
      embedded = await openEmbeddedDatabase(this.env.DATA_DIR, (line) =>
        process.stderr.write(`oa: ${line}\n`),
      );
      url = embedded.url;
    }
    try {
      const db = await Database.connect({ url, max: 4 });
      try {
        return await work(db, url);
      } finally {
        await db.close();
      }
    } finally {
      await embedded?.close();
    }
  }
}

/**
 * The event store analysts read: EventStoreDB when EVENTSTORE_URL is set, else the Postgres store
 * (which also needs the database for counts).
 */
export async function withEventStore<T>(
  context: CliContext,
  work: (store: EventStore, db: Database | undefined) => Promise<T>,
): Promise<T> {
  const esdbUrl = context.env.EVENTSTORE_URL;
  if (esdbUrl) {
    const store = EsdbEventStore.connect(esdbUrl);
    try {
      return await work(store, undefined);
    } finally {
      await store.close();
    }
  }
  return context.withAdminDatabase((db) => work(new PostgresEventStore(db), db));
}

/**
 * The admin database plus the event store (EventStoreDB when EVENTSTORE_URL is set): operator
 * commands need both, since checkpoints, read models and the journal always live in Postgres.
 */
export async function withStoreAndDatabase<T>(context: CliContext, work: (store: EventStore, db: Database) => Promise<T>): Promise<T> {
  return context.withAdminDatabase(async (db) => {
    const esdbUrl = context.env.EVENTSTORE_URL;
    if (!esdbUrl) return work(new PostgresEventStore(db), db);
    const store = EsdbEventStore.connect(esdbUrl);
    try {
      return await work(store, db);
    } finally {
      await store.close();
    }
  });
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
