import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import pino from 'pino';
import { EventStore, NewEvent, PostgresEventStore } from '@khala/eventstore';
import { Database, quoteIdentifier, migrateUp, withDatabaseName } from '@khala/platform';
import {
  CodexWorkerEventsProjection,
  CodexWorkerSummariesProjection,
  Projection,
  ProjectionOverrides,
  ProjectorOptions,
  ProjectorRunner,
  RunEventsProjection,
  RunSummariesProjection,
} from '@khala/projections';

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A stream category no system projector follows, so a test's runners are the only ones that see
 * its events even while other test files run projectors on the same database. Tests connect as the
 * superuser, which row-level security does not restrict.
 */
export function isolatedCategories() {
  const tag = randomUUID().replace(/-/g, '').slice(0, 10);
  return {
    tag,
    run: `trun${tag}`,
    worker: `twrk${tag}`,
    runStream: (runId: string) => `trun${tag}-${runId}`,
    workerStream: (workerId: string) => `twrk${tag}-${workerId}`,
  };
}
export type Categories = ReturnType<typeof isolatedCategories>;

/** Runtime's four projections under test names, over the test's own categories (and `overrides`). */
export function isolatedProjections(categories: Categories, overrides: ProjectionOverrides = {}): Projection[] {
  const runs = { ...overrides, filter: { streamPrefixes: [`${categories.run}-`] } };
  const workers = { ...overrides, filter: { streamPrefixes: [`${categories.worker}-`] } };
  return [
    new RunSummariesProjection({ name: `t_${categories.tag}_run_summaries`, ...runs }),
    new RunEventsProjection({ name: `t_${categories.tag}_run_events`, ...runs }),
    new CodexWorkerSummariesProjection({ name: `t_${categories.tag}_worker_summaries`, ...workers }),
    new CodexWorkerEventsProjection({ name: `t_${categories.tag}_worker_events`, ...workers }),
  ];
}

export function runnersFor(store: EventStore, db: Database, projections: Projection[], options: ProjectorOptions = {}): ProjectorRunner[] {
  return projections.map((projection) => new ProjectorRunner(store, db, projection, silentLogger, { statsEveryMs: 0, leaseRetryMs: 100, ...options }));
}

const base = (runId: string, orgId: string) => ({ run_id: runId, org_id: orgId, actor_user_id: 'user_test', occurred_at: new Date().toISOString() });

export function runCreated(runId: string, orgId: string): NewEvent {
  return event('RunCreated', { ...base(runId, orgId), thread_id: 'thread-1', metadata: { purpose: 'test' } });
}

export function runFrame(runId: string, orgId: string, type: 'RunStarted' | 'RunTextDelta' | 'RunFinished', payload: Record<string, unknown> = {}): NewEvent {
  return event(type, { ...base(runId, orgId), frame_id: randomUUID(), payload });
}

export function event(type: string, data: Record<string, unknown>): NewEvent {
  return { id: randomUUID(), type, data, metadata: { correlation_id: randomUUID(), causation_id: '', actor: 'test', schema_version: 1 } };
}

/** Appends a whole run (created, started, `deltas` text deltas, finished) in `chunks` appends. */
export async function appendRun(store: EventStore, stream: string, runId: string, orgId: string, deltas: number): Promise<void> {
  const events = [runCreated(runId, orgId), runFrame(runId, orgId, 'RunStarted')];
  for (let i = 0; i < deltas; i++) events.push(runFrame(runId, orgId, 'RunTextDelta', { text: `delta ${i}` }));
  events.push(runFrame(runId, orgId, 'RunFinished'));
  let revision: bigint | 'no_stream' = 'no_stream';
  for (const one of events) {
    const result = await store.append(stream, [one], { expectedRevision: revision });
    revision = result.nextExpectedRevision;
  }
}

/** Waits (polling) until `condition` holds; fails the test after `limitMs` instead of hanging. */
/** Polls until `condition` holds; fails (naming what it waited for) well before jest's test timeout. */
export async function eventually<T>(probe: () => Promise<T>, condition: (value: T) => boolean, what: string, limitMs = 45_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (condition(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${describeValue(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface JournalRow {
  topic: string;
  watermark: number;
  doc_key: string;
  doc_version: number;
  payload: string | null;
  payload_hash: string;
  hydration_required: boolean;
}

export async function journalOf(db: Database, topic: string, orgId: string): Promise<JournalRow[]> {
  const { rows } = await db.query<JournalRow & { watermark: string; doc_version: string }>(
    `SELECT topic, watermark, doc_key, doc_version, payload, payload_hash, hydration_required FROM khala.journal
      WHERE topic = $1 AND org_id = $2 ORDER BY watermark`,
    [topic, orgId],
  );
  return rows.map((row) => ({ ...row, watermark: Number(row.watermark), doc_version: Number(row.doc_version) }));
}

export function expectDense(rows: { watermark: number }[]): void {
  const watermarks = rows.map((row) => row.watermark);
  expect(watermarks).toEqual(watermarks.map((_, index) => index + 1));
}

/** A freshly migrated database of its own on the Postgres server (Postgres runs only). */
export async function createScratchDatabase(adminUrl: string): Promise<{ url: string; db: Database; store: PostgresEventStore; drop(): Promise<void> }> {
  const name = `khala_scratch_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = await Database.connect({ url: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  await admin.close();
  const url = withDatabaseName(adminUrl, name);
  const db = await Database.connect({ url, max: 8 });
  await migrateUp(db);
  return {
    url,
    db,
    store: new PostgresEventStore(db, { pollIntervalMs: 50 }),
    async drop() {
      await db.close();
      const again = await Database.connect({ url: adminUrl, max: 1 });
      await again.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await again.close();
    },
  };
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
