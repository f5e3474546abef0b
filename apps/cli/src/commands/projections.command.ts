import { Command, Option } from 'commander';
import { EventStore, Position } from '@khala/eventstore';
import { Database } from '@khala/platform';
import {
  CheckpointTable,
  FailureStatus,
  listFailures,
  loadCheckpoint,
  markRetried,
  markSkipped,
  measureBacklog,
  PROJECTION_APPS,
  ProjectionApp,
  projectionLeaseKey,
  projectionTables,
  ProjectionTables,
  setPaused,
} from '@khala/projections';
import { CliContext, withStoreAndDatabase } from '../cli-context';
import { EXIT } from '../exit-codes';
import { CatalogEntry, CliError, findProjection, projectionCatalog } from '../projections/catalog';
import { rebuildCommand } from './rebuild.command';

export interface ProjectionStatusRow {
  projection: string;
  app: ProjectionApp;
  known: boolean;
  version: number | null;
  checkpoint: string | null;
  checkpoint_updated_at: string | null;
  lag_events: number | null;
  lag_seconds: number | null;
  /** true/false on Postgres (pg_locks); null on embedded PGlite, whose lease is in-process. */
  leader: boolean | null;
  leader_application: string | null;
  paused: boolean;
  parked: number;
}

/** `oa projections ...`: status and operator controls of the projectors. */
export function projectionsCommand(context: CliContext): Command {
  const projections = new Command('projections').description('inspect and operate projections (operators)');

  projections
    .command('list')
    .description('every projection: app, version, checkpoint, paused, parked failures')
    .action(() =>
      withStoreAndDatabase(context, async (store, db) => {
        const rows = await statusRows(store, db, undefined, false);
        context.output(rows, table(rows, ['projection', 'app', 'version', 'checkpoint', 'paused', 'parked']));
      }),
    );

  projections
    .command('status')
    .description(
      'checkpoint, lag, leader, paused and parked failures; exits 2 when a projection has parked failures or is paused, 0 when all are healthy',
    )
    .argument('[name]', 'one projection (default: all)')
    .action((name: string | undefined) =>
      withStoreAndDatabase(context, async (store, db) => {
        const rows = await statusRows(store, db, name, true);
        context.output(
          rows,
          table(rows, [
            'projection',
            'app',
            'checkpoint',
            'lag_events',
            'lag_seconds',
            'leader',
            'paused',
            'parked',
          ]),
        );
        if (rows.some((row) => row.parked > 0 || row.paused)) context.fail(EXIT.attention);
      }),
    );

  for (const paused of [true, false]) {
    projections
      .command(paused ? 'pause' : 'resume')
      .description(
        paused
          ? 'stop committing batches (durable; returns once no batch is in flight)'
          : 'let a paused projection commit again',
      )
      .argument('<name>', 'projection name')
      .option('--app <app>', 'for projections not in the catalog: runtime or control', 'runtime')
      .option('--reason <text>', 'why (shown by status)')
      .action((name: string, options: { app: string; reason?: string }) =>
        context.withAdminDatabase(async (db) => {
          const entry = await resolve(db, name, options.app);
          await setPaused(db, name, paused, options.reason ?? null, entry.controlsTable);
          if (paused) await waitForInFlightBatch(db, name, entry.checkpointTable);
          context.output({ projection: name, paused }, `${name} ${paused ? 'paused' : 'resumed'}`);
        }),
      );
  }

  projections
    .command('failures')
    .description('parked poison events (or retried/skipped ones); exits 2 when it lists a parked failure, 0 when there is none')
    .argument('[name]', 'one projection (default: all)')
    .addOption(
      new Option('--status <status>', 'which failures')
        .choices(['parked', 'retried', 'skipped', 'all'])
        .default('parked'),
    )
    .option('--app <app>', 'runtime or control', 'runtime')
    .action((name: string | undefined, options: { status: FailureStatus | 'all'; app: string }) =>
      context.withAdminDatabase(async (db) => {
        const apps = name ? [(await resolve(db, name, options.app)).app] : PROJECTION_APPS;
        const rows = [];
        for (const app of apps)
          rows.push(
            ...(await listFailures(db, name, options.status, projectionTables(app).failuresTable)).map(
              (row) => ({
                app,
                ...row,
              }),
            ),
          );
        context.output(
          rows,
          rows.length
            ? rows
                .map(
                  (r) =>
                    `${r.projection} ${r.event_id} ${r.event_type} ${r.stream_id}@${r.revision} [${r.status}] x${r.attempts}: ${r.error}`,
                )
                .join('\n')
            : 'no failures',
        );
        // Same rule as status: a parked event halts (or is skipped by) its projection until an operator acts.
        if (rows.some((row) => row.status === 'parked')) context.fail(EXIT.attention);
      }),
    );

  for (const action of ['retry', 'skip'] as const) {
    projections
      .command(action)
      .description(
        action === 'retry'
          ? 'mark a parked event for re-processing (a halted projection re-attempts it; it parks again if it still fails)'
          : 'mark a parked event skipped, so a halted projection moves past it',
      )
      .argument('<name>', 'projection name')
      .argument('<event-id>', 'the parked event id (see failures)')
      .option('--app <app>', 'for projections not in the catalog: runtime or control', 'runtime')
      .action((name: string, eventId: string, options: { app: string }) =>
        context.withAdminDatabase(async (db) => {
          const entry = await resolve(db, name, options.app);
          const mark = action === 'retry' ? markRetried : markSkipped;
          if (!(await mark(db, name, eventId, entry.failuresTable))) {
            throw new CliError(`no parked failure ${eventId} for projection ${name}`);
          }
          const status = action === 'retry' ? 'retried' : 'skipped';
          context.output(
            { projection: name, event_id: eventId, status },
            `${name}: event ${eventId} marked ${status}`,
          );
        }),
      );
  }

  projections.addCommand(rebuildCommand(context));
  return projections;
}

/** A catalog projection, or one that exists only as a checkpoint row (e.g. a renamed or test projection). */
async function resolve(db: Database, name: string, app: string): Promise<ProjectionTables> {
  const known = projectionCatalog().find((entry) => entry.projection.name === name);
  if (known) return known;
  if (!PROJECTION_APPS.includes(app as ProjectionApp))
    throw new CliError(`--app must be runtime or control, got ${JSON.stringify(app)}`);
  const tables = projectionTables(app as ProjectionApp);
  if (!(await loadCheckpoint(db, name, tables.checkpointTable))) findProjection(name); // throws the "unknown projection" error
  return tables;
}

/**
 * The runner reads the pause flag after taking its checkpoint row lock; waiting for that lock here
 * means a batch that read "not paused" has committed (or rolled back) before pause returns.
 */
async function waitForInFlightBatch(
  db: Database,
  name: string,
  checkpointTable: CheckpointTable,
): Promise<void> {
  await db.transaction((tx) =>
    tx.query(`SELECT 1 FROM ${checkpointTable} WHERE projection = $1 FOR UPDATE`, [name]),
  );
}

async function statusRows(
  store: EventStore,
  db: Database,
  only: string | undefined,
  measure: boolean,
): Promise<ProjectionStatusRow[]> {
  const catalog = projectionCatalog();
  const names: { name: string; app: ProjectionApp; entry?: CatalogEntry }[] = catalog.map((entry) => ({
    name: entry.projection.name,
    app: entry.app,
    entry,
  }));
  for (const app of PROJECTION_APPS) {
    const { rows } = await db.query<{ projection: string }>(
      `SELECT projection FROM ${projectionTables(app).checkpointTable} ORDER BY projection`,
    );
    for (const row of rows)
      if (!names.some((n) => n.name === row.projection && n.app === app))
        names.push({ name: row.projection, app });
  }
  const selected = only ? names.filter((n) => n.name === only) : names;
  if (only && selected.length === 0) findProjection(only);
  const result: ProjectionStatusRow[] = [];
  for (const { name, app, entry } of selected) {
    const tables = projectionTables(app);
    const { rows } = await db.query<{
      version: number;
      commit_position: string;
      prepare_position: string;
      updated_at: Date;
    }>(
      `SELECT version, commit_position, prepare_position, updated_at FROM ${tables.checkpointTable} WHERE projection = $1`,
      [name],
    );
    const stored = rows[0];
    const position: Position | undefined = stored && {
      commit: BigInt(stored.commit_position),
      prepare: BigInt(stored.prepare_position),
    };
    const backlog =
      measure && entry ? await measureBacklog(store, db, entry.projection.filter, position) : undefined;
    const leader = measure
      ? await leaseHolder(db, projectionLeaseKey(tables.checkpointTable, name))
      : { held: null, application: null };
    const control = await db.query<{ paused: boolean }>(
      `SELECT paused FROM ${tables.controlsTable} WHERE projection = $1`,
      [name],
    );
    const parked = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${tables.failuresTable} WHERE projection = $1 AND status = 'parked'`,
      [name],
    );
    result.push({
      projection: name,
      app,
      known: entry !== undefined,
      version: stored?.version ?? entry?.projection.version ?? null,
      checkpoint: position ? `${position.commit}/${position.prepare}` : null,
      checkpoint_updated_at: stored ? new Date(stored.updated_at).toISOString() : null,
      lag_events: backlog ? backlog.events : null,
      lag_seconds: backlog ? Math.round(backlog.ageSeconds) : null,
      leader: leader.held,
      leader_application: leader.application,
      paused: control.rows[0]?.paused === true,
      parked: Number(parked.rows[0].n),
    });
  }
  return result;
}

/**
 * Whether some session holds the runner's advisory lease: the 64-bit key hashtextextended(name)
 * appears in pg_locks split into classid (high 32 bits) and objid (low 32 bits), objsubid 1.
 * PGlite's lease is an in-process guard, invisible from another process: null there.
 */
async function leaseHolder(
  db: Database,
  key: string,
): Promise<{ held: boolean | null; application: string | null }> {
  if (db.isPglite) return { held: null, application: null };
  const { rows } = await db.query<{ application_name: string | null }>(
    `WITH k AS (SELECT hashtextextended($1, 0) AS key)
     SELECT a.application_name FROM pg_locks l CROSS JOIN k
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid::text::bigint = ((k.key >> 32) & 4294967295) AND l.objid::text::bigint = (k.key & 4294967295)`,
    [key],
  );
  return { held: rows.length > 0, application: rows[0]?.application_name ?? null };
}

function table<T extends object>(rows: T[], columns: (keyof T & string)[]): string {
  if (rows.length === 0) return 'no projections';
  const cells = [columns, ...rows.map((row) => columns.map((column) => format(row[column])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function format(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return String(value);
}
