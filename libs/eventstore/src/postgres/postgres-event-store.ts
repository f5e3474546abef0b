import { PoolClient } from 'pg';
import { Database, isConnectionError, Queryable } from '@khala/platform';
import {
  AppendOptions,
  AppendResult,
  comparePositions,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  streamCategory,
  SubscribeOptions,
  Subscription,
  SubscriptionMessage,
} from '../event-store.port';
import { ActualRevision, EventStoreError } from '../event-store.error';
import { announceAppender, commitHorizon } from './commit-horizon';
import { Waker } from './waker';

export const APPENDED_CHANNEL = 'eventstore_appended';
const PAGE_SIZE = 500;
const START: Position = { commit: 0n, prepare: 0n };

interface EventRow {
  event_id: string;
  stream_id: string;
  revision: string;
  transaction_id: string;
  position: string;
  event_type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  created_at: Date;
}

// transaction_id is selected as text (xid8 has no JS type), so ORDER BY must name the table's
// column (events.transaction_id): a bare name would bind to this text alias and sort as text.
const EVENT_COLUMNS =
  'event_id, stream_id, revision, transaction_id::text AS transaction_id, position, event_type, data, metadata, created_at';

/**
 * Highest position below the commit horizon: everything at or below it is committed or rolled back
 * for good. Reading only up to it is what makes late commits impossible to skip.
 */
const HEAD_SQL = `
  SELECT transaction_id::text AS transaction_id, position FROM eventstore.events
   WHERE transaction_id < $1::text::xid8
   ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1`;

export interface PostgresEventStoreOptions {
  /** Fallback poll interval for subscriptions (NOTIFY is only a wake-up hint). */
  pollIntervalMs?: number;
}

/**
 * The embedded default and single-node production event store. Global order is commit order:
 * (transaction_id, position), see migrations/0001 and this library's README.
 */
export class PostgresEventStore implements EventStore {
  private readonly pollIntervalMs: number;

  constructor(
    private readonly db: Database,
    options: PostgresEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
  }

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    validateStreamName(stream);
    return this.db.transaction((client) => this.appendWithin(client, stream, events, options));
  }

  /**
   * The append, inside a transaction the caller owns: it becomes visible (and its NOTIFY is sent)
   * only when that transaction commits. Used by `append`, and by tests that hold a transaction open
   * to commit out of position order.
   */
  async appendWithin(
    client: PoolClient,
    stream: string,
    events: NewEvent[],
    { expectedRevision }: AppendOptions,
  ): Promise<AppendResult> {
    validateStreamName(stream);
    await announceAppender(client);
    await client.query(
      'INSERT INTO eventstore.streams (stream_id, category) VALUES ($1, $2) ON CONFLICT (stream_id) DO NOTHING',
      [stream, streamCategory(stream)],
    );
    // The row lock serialises appenders of one stream; concurrent streams never wait on each other.
    const { rows } = await client.query<{ revision: string }>(
      'SELECT revision FROM eventstore.streams WHERE stream_id = $1 FOR UPDATE',
      [stream],
    );
    const current = BigInt(rows[0].revision);
    const replayed = await findIdempotentReplay(client, stream, events, expectedRevision);
    if (replayed) return replayed;
    if (!revisionMatches(expectedRevision, current)) {
      throw EventStoreError.wrongExpectedVersion(stream, String(expectedRevision), actualRevision(current));
    }
    if (events.length === 0) {
      const head = await this.headPosition(client);
      return { nextExpectedRevision: current, position: head ?? START };
    }
    const inserted = await insertEvents(client, stream, current, events);
    const next = current + BigInt(events.length);
    await client.query('UPDATE eventstore.streams SET revision = $2 WHERE stream_id = $1', [stream, next.toString()]);
    // Inside the transaction: Postgres delivers it only if and when the append commits.
    await client.query('SELECT pg_notify($1, $2)', [APPENDED_CHANNEL, stream]);
    return { nextExpectedRevision: next, position: toPosition(inserted[inserted.length - 1]) };
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    const limit = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const forwardsFromEnd = !backwards && options.fromRevision === 'end';
    let cursor: bigint | undefined =
      typeof options.fromRevision === 'bigint'
        ? options.fromRevision
        : (options.fromRevision ?? (backwards ? 'end' : 'start')) === 'start'
          ? 0n
          : undefined;
    let yielded = 0;
    let first = true;
    while (yielded < limit) {
      const pageSize = Math.min(PAGE_SIZE, limit - yielded);
      const { rows } = await this.db.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM eventstore.events
          WHERE stream_id = $1 AND ($2::bigint IS NULL OR revision ${backwards ? '<=' : '>='} $2::bigint)
          ORDER BY revision ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
        [stream, cursor?.toString() ?? null, pageSize],
      );
      if (first && rows.length === 0) {
        const exists = await this.db.query('SELECT 1 FROM eventstore.streams WHERE stream_id = $1 AND revision >= 0', [stream]);
        if (exists.rowCount === 0) throw EventStoreError.streamNotFound(stream);
      }
      first = false;
      // Forwards from the end: nothing yet, but a missing stream is still reported as missing.
      if (forwardsFromEnd) return;
      for (const row of rows) yield toRecordedEvent(row);
      yielded += rows.length;
      if (rows.length < pageSize) return;
      const lastRevision = BigInt(rows[rows.length - 1].revision);
      cursor = backwards ? lastRevision - 1n : lastRevision + 1n;
      if (cursor < 0n) return;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    const limit = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    let cursor: Position | undefined = from === 'start' ? (backwards ? undefined : START) : from === 'end' ? undefined : from;
    if (backwards && from === 'start') return;
    const head = await this.headPosition();
    if (!head) return;
    let yielded = 0;
    while (yielded < limit) {
      const pageSize = Math.min(PAGE_SIZE, limit - yielded);
      const rows = backwards
        ? await this.pageBackwards(cursor ?? head, cursor === undefined, head, options.filter, pageSize)
        : await this.pageForwards(cursor ?? START, head, options.filter, pageSize);
      for (const row of rows) yield toRecordedEvent(row);
      yielded += rows.length;
      if (rows.length < pageSize) return;
      cursor = toPosition(rows[rows.length - 1]);
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    return new PostgresSubscription(this, this.db, options, this.pollIntervalMs);
  }

  async headPosition(client: Queryable = this.db): Promise<Position | undefined> {
    const horizon = await commitHorizon(client);
    const { rows } = await client.query<{ transaction_id: string; position: string }>(HEAD_SQL, [horizon.toString()]);
    return rows[0] ? toPosition(rows[0]) : undefined;
  }

  async close(): Promise<void> {
    // The Database is owned by whoever created this store.
  }

  /** Events in (after, upTo], which are all final because upTo is at or below the head. */
  async pageForwards(after: Position, upTo: Position, filter: EventFilter | undefined, limit: number): Promise<EventRow[]> {
    const where = filterSql(filter, 5);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM eventstore.events
        WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint) ${where.sql}
        ORDER BY events.transaction_id, events.position LIMIT ${Number(limit)}`,
      [after.commit.toString(), after.prepare.toString(), upTo.commit.toString(), upTo.prepare.toString(), ...where.params],
    );
    return rows;
  }

  /** Events before `before` (or at it, when inclusive) and at or below the head, newest first. */
  private async pageBackwards(before: Position, inclusive: boolean, head: Position, filter: EventFilter | undefined, limit: number) {
    const where = filterSql(filter, 5);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM eventstore.events
        WHERE (transaction_id, position) ${inclusive ? '<=' : '<'} ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint) ${where.sql}
        ORDER BY events.transaction_id DESC, events.position DESC LIMIT ${Number(limit)}`,
      [before.commit.toString(), before.prepare.toString(), head.commit.toString(), head.prepare.toString(), ...where.params],
    );
    return rows;
  }
}

/**
 * Catch-up then live: each round reads the head first, then pages up to it, so the order of
 * delivery is the commit order and never changes. Idle rounds emit the head as a checkpoint so a
 * sparse filter still lets its consumer move on.
 */
class PostgresSubscription implements Subscription {
  private closed = false;
  private readonly waker = new Waker();
  private unlisten?: () => void;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly db: Database,
    private readonly options: SubscribeOptions,
    private readonly pollIntervalMs: number,
  ) {}

  async close(): Promise<void> {
    this.closed = true;
    this.waker.wake();
    this.unlisten?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    this.unlisten = await this.db.listen(APPENDED_CHANNEL, () => this.waker.wake());
    let cursor = this.options.fromPosition === 'start' || !this.options.fromPosition ? START : this.options.fromPosition;
    let lastCheckpoint = cursor;
    let caughtUp = false;
    let failures = 0;
    try {
      while (!this.closed) {
        let head: Position | undefined;
        let rows: EventRow[];
        try {
          head = await this.store.headPosition();
          rows = head && comparePositions(head, cursor) > 0 ? await this.store.pageForwards(cursor, head, this.options.filter, PAGE_SIZE) : [];
          failures = 0;
        } catch (error) {
          if (!isConnectionError(error) || this.closed) throw error;
          failures += 1;
          await this.waker.sleep(Math.min(5000, 100 * 2 ** failures));
          continue;
        }
        for (const row of rows) {
          if (this.closed) return;
          const event = toRecordedEvent(row);
          cursor = event.position;
          yield { kind: 'event', event };
        }
        if (rows.length === PAGE_SIZE) continue;
        if (head && comparePositions(head, cursor) > 0) cursor = head;
        if (comparePositions(cursor, lastCheckpoint) > 0) {
          lastCheckpoint = cursor;
          yield { kind: 'checkpoint', position: cursor };
        }
        if (!caughtUp) {
          caughtUp = true;
          yield { kind: 'caughtUp' };
        }
        await this.waker.sleep(this.pollIntervalMs);
      }
    } finally {
      this.unlisten?.();
    }
  }
}

/** Inserts at revisions current+1..; a reused event id (a partial replay) is a conflict, as in EventStoreDB. */
async function insertEvents(
  client: PoolClient,
  stream: string,
  current: bigint,
  events: NewEvent[],
): Promise<Array<{ transaction_id: string; position: string }>> {
  try {
    const { rows } = await client.query<{ transaction_id: string; position: string }>(
      `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
       SELECT e.id, $1, $2, $3::bigint + e.ordinality, e.type, e.data, e.metadata
         FROM unnest($4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[]) WITH ORDINALITY
              AS e(id, type, data, metadata, ordinality)
       ORDER BY e.ordinality
       RETURNING transaction_id::text AS transaction_id, position`,
      [
        stream,
        streamCategory(stream),
        current.toString(),
        events.map((event) => event.id),
        events.map((event) => event.type),
        events.map((event) => JSON.stringify(event.data)),
        events.map((event) => JSON.stringify(event.metadata)),
      ],
    );
    // RETURNING order is not guaranteed; the last event is the one with the highest position.
    return rows.sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : 1));
  } catch (error) {
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === '23505' && constraint === 'events_event_id_key') {
      throw EventStoreError.wrongExpectedVersion(stream, 'a batch whose event ids are new', actualRevision(current));
    }
    throw error;
  }
}

function actualRevision(current: bigint): ActualRevision {
  return current < 0n ? 'no_stream' : current;
}

function revisionMatches(expected: ExpectedRevision, current: bigint): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current < 0n;
  if (expected === 'stream_exists') return current >= 0n;
  return expected === current;
}

/**
 * A retry of an append that already happened (same event ids, in order, at the revisions the
 * original expectation put them) is acknowledged without writing. As with EventStoreDB, this is
 * exact only for `no_stream` and exact revisions; for `any` the ids alone decide.
 */
async function findIdempotentReplay(
  client: PoolClient,
  stream: string,
  events: NewEvent[],
  expected: ExpectedRevision,
): Promise<AppendResult | undefined> {
  if (events.length === 0 || expected === 'stream_exists') return undefined;
  const { rows } = await client.query<{ event_id: string; revision: string; transaction_id: string; position: string }>(
    `SELECT event_id, revision, transaction_id::text AS transaction_id, position FROM eventstore.events
      WHERE stream_id = $1 AND event_id = ANY($2::uuid[]) ORDER BY revision`,
    [stream, events.map((event) => event.id)],
  );
  if (rows.length === 0) return undefined;
  const firstRevision = expected === 'no_stream' ? 0n : expected === 'any' ? BigInt(rows[0].revision) : expected + 1n;
  const sameBatch =
    rows.length === events.length &&
    rows.every((row, index) => row.event_id === events[index].id.toLowerCase() && BigInt(row.revision) === firstRevision + BigInt(index));
  if (!sameBatch) return undefined;
  const last = rows[rows.length - 1];
  return { nextExpectedRevision: BigInt(last.revision), position: toPosition(last) };
}

function filterSql(filter: EventFilter | undefined, firstParam: number): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter?.streamPrefixes?.length) {
    const categories = filter.streamPrefixes.filter(isWholeCategoryPrefix).map((prefix) => prefix.slice(0, -1));
    const others = filter.streamPrefixes.filter((prefix) => !isWholeCategoryPrefix(prefix));
    const prefixClauses: string[] = [];
    if (categories.length) {
      params.push(categories);
      prefixClauses.push(`category = ANY($${firstParam + params.length - 1}::text[])`);
    }
    if (others.length) {
      params.push(others.map((prefix) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'));
      prefixClauses.push(`stream_id LIKE ANY($${firstParam + params.length - 1}::text[])`);
    }
    clauses.push(`(${prefixClauses.join(' OR ')})`);
  }
  if (filter?.eventTypes?.length) {
    params.push(filter.eventTypes);
    clauses.push(`event_type = ANY($${firstParam + params.length - 1}::text[])`);
  }
  return { sql: clauses.map((clause) => `AND ${clause}`).join(' '), params };
}

/** `run-` selects exactly the `run` category, which the category index serves. */
function isWholeCategoryPrefix(prefix: string): boolean {
  return prefix.endsWith('-') && prefix.indexOf('-') === prefix.length - 1;
}

function validateStreamName(stream: string): void {
  if (!stream || stream.startsWith('$') || stream.length > 512) {
    throw new EventStoreError('INVALID_ARGUMENT', `invalid stream name: ${JSON.stringify(stream.slice(0, 64))}`);
  }
}

function toPosition(row: { transaction_id: string; position: string }): Position {
  return { commit: BigInt(row.transaction_id), prepare: BigInt(row.position) };
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    stream: row.stream_id,
    revision: BigInt(row.revision),
    position: toPosition(row),
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    created: row.created_at,
  };
}

