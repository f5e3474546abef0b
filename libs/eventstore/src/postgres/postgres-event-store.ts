import { escapeLiteral, QueryResult, QueryResultRow } from 'pg';
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
import { commitHorizon, HORIZON_SETTING, HORIZON_STATEMENT } from './commit-horizon';
import { GroupCommit } from './group-commit';
import { Waker } from './waker';

export const APPENDED_CHANNEL = 'eventstore_appended';
const PAGE_SIZE = 500;
// Catch-up reads in larger pages: fewer round trips per event while far behind.
const SUBSCRIPTION_PAGE_SIZE = 2000;
const START: Position = { commit: 0n, prepare: 0n };
const APPEND_SQL = 'SELECT outcome, revision, transaction_id, position FROM eventstore.append_events($1, $2, $3, $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])';
const GROUP_APPEND_SQL =
  'SELECT member, outcome, revision, transaction_id, position FROM eventstore.append_to_streams($1::text[], $2::text[], $3::text[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[])';

interface AppendRow {
  /** 'conflict' only from a group member: its expectation failed and it wrote nothing. */
  outcome: 'appended' | 'replayed' | 'empty' | 'conflict';
  revision: string;
  transaction_id: string | null;
  position: string | null;
}

/** One append of a group commit (migrations/0016). */
interface GroupMember {
  stream: string;
  events: NewEvent[];
  expectedRevision: ExpectedRevision;
}
type GroupRow = AppendRow & { member: number };
type Settled = { result: AppendResult } | { failed: unknown };

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
  /** Only on the sentinel row of an empty first stream page: whether the stream exists. */
  stream_exists?: boolean | null;
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
  /**
   * Group commits in flight at once (group-commit.ts): appends arriving while this many are on
   * their way wait and go together as the next one. Each holds one pooled connection.
   */
  appendGroupsInFlight?: number;
}

/** Appends per group: a bound on one transaction's size and on the locks it holds at once. */
const MAX_GROUP_MEMBERS = 64;

/**
 * The embedded default and single-node production event store. Global order is commit order:
 * (transaction_id, position), see migrations/0001 and this library's README.
 */
export class PostgresEventStore implements EventStore {
  private readonly pollIntervalMs: number;
  private readonly groups: GroupCommit<GroupMember, Settled>;

  constructor(
    private readonly db: Database,
    options: PostgresEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.groups = new GroupCommit((members) => this.appendGroup(members), options.appendGroupsInFlight ?? 2, MAX_GROUP_MEMBERS);
  }

  /**
   * Appends of concurrent commands share a round trip and a commit (group-commit.ts), each with
   * its own expectation and outcome; an append with nothing to write reads the head instead.
   */
  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    validateStreamName(stream);
    if (events.length === 0) return this.appendWithin(this.db, stream, events, options);
    const settled = await this.groups.submit({ stream, events, expectedRevision: options.expectedRevision });
    if ('failed' in settled) throw settled.failed;
    // Committed by now: wake subscribers (this process's at once, others' by a batched NOTIFY).
    this.db.notifyCommitted(APPENDED_CHANNEL, stream);
    return settled.result;
  }

  /**
   * One group as one autocommit statement (its own transaction). Members go in stream id order, so
   * groups in flight lock streams in one order and never deadlock. If the statement fails as a
   * whole (a reused event id, say), it wrote nothing: each member is then appended alone, so one
   * member's error is its own.
   */
  private async appendGroup(members: GroupMember[]): Promise<Settled[]> {
    const order = members.map((_, index) => index).sort((a, b) => compareText(members[a].stream, members[b].stream) || a - b);
    const sorted = order.map((index) => members[index]);
    let rows: GroupRow[];
    try {
      ({ rows } = await this.hotQuery<GroupRow>(this.db, 'eventstore_append_group', GROUP_APPEND_SQL, [
        sorted.map((member) => member.stream),
        sorted.map((member) => streamCategory(member.stream)),
        sorted.map((member) => expectationText(member.expectedRevision)),
        sorted.map((member) => member.events.length),
        sorted.flatMap((member) => member.events.map((event) => event.id)),
        sorted.flatMap((member) => member.events.map((event) => event.type)),
        sorted.flatMap((member) => member.events.map((event) => JSON.stringify(event.data))),
        sorted.flatMap((member) => member.events.map((event) => JSON.stringify(event.metadata))),
      ]));
    } catch (error) {
      // A lost connection leaves it unknown whether the group committed, exactly as for a single
      // append: the caller's retry with the same event ids is recognised as a replay.
      if (isConnectionError(error)) return members.map(() => ({ failed: error }));
      return Promise.all(members.map((member) => this.appendAlone(member)));
    }
    const settled: Settled[] = new Array(members.length);
    for (const row of rows) {
      const member = order[row.member - 1];
      const { stream, expectedRevision } = members[member];
      settled[member] =
        row.outcome === 'conflict'
          ? { failed: EventStoreError.wrongExpectedVersion(stream, String(expectedRevision), actualRevision(BigInt(row.revision))) }
          : { result: { nextExpectedRevision: BigInt(row.revision), position: toPosition({ transaction_id: row.transaction_id!, position: row.position! }) } };
    }
    return settled;
  }

  private async appendAlone({ stream, events, expectedRevision }: GroupMember): Promise<Settled> {
    try {
      return { result: await this.appendWithin(this.db, stream, events, { expectedRevision }) };
    } catch (error) {
      return { failed: error };
    }
  }

  /**
   * The append, inside a transaction the caller owns (or as its own autocommit statement): it
   * becomes visible only when that transaction commits, and subscribers learn of it from their poll
   * unless the caller wakes them after its commit (`notifyAppended`). Used by `append`, and by tests
   * that hold a transaction open to commit out of position order. The whole append is one call of
   * eventstore.append_events (migrations/0010, 0013): announce, lock, replay check, revision check,
   * insert, bump.
   */
  async appendWithin(
    client: Queryable,
    stream: string,
    events: NewEvent[],
    { expectedRevision }: AppendOptions,
  ): Promise<AppendResult> {
    validateStreamName(stream);
    let row: AppendRow;
    try {
      ({
        rows: [row],
      } = await this.hotQuery<AppendRow>(client, 'eventstore_append', APPEND_SQL, [
        stream,
        streamCategory(stream),
        expectationText(expectedRevision),
        events.map((event) => event.id),
        events.map((event) => event.type),
        events.map((event) => JSON.stringify(event.data)),
        events.map((event) => JSON.stringify(event.metadata)),
      ]));
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === '23505' && constraint === 'events_event_id_key') {
        // A reused id (a partial replay) is a conflict, as in EventStoreDB. The failed statement
        // rolled back, so the stream's revision is read outside it (this rare path only).
        const { rows } = await this.db.query<{ revision: string }>('SELECT revision FROM eventstore.streams WHERE stream_id = $1', [stream]);
        throw EventStoreError.wrongExpectedVersion(stream, 'a batch whose event ids are new', actualRevision(BigInt(rows[0]?.revision ?? -1)));
      }
      throw appendError(error, stream, expectedRevision);
    }
    const revision = BigInt(row.revision);
    if (row.outcome === 'empty') {
      const head = await this.headPosition(client);
      return { nextExpectedRevision: revision, position: head ?? START };
    }
    return { nextExpectedRevision: revision, position: toPosition({ transaction_id: row.transaction_id!, position: row.position! }) };
  }

  /** Wakes subscribers after the caller committed an `appendWithin` of `stream`. */
  notifyAppended(stream: string): void {
    this.db.notifyCommitted(APPENDED_CHANNEL, stream);
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
      const direction = backwards ? 'DESC' : 'ASC';
      const page = `SELECT ${EVENT_COLUMNS} FROM eventstore.events
          WHERE stream_id = $1 AND ($2::bigint IS NULL OR revision ${backwards ? '<=' : '>='} $2::bigint)
          ORDER BY revision ${direction} LIMIT $3`;
      // The first page also says whether the stream exists when it is empty (one round trip, not
      // two: every command reads its stream first, and a new stream's read comes back empty).
      const { rows } = await this.hotQuery<EventRow>(
        this.db,
        `eventstore_read_stream${backwards ? '_backwards' : ''}${first ? '_first' : ''}`,
        first
          ? `WITH page AS MATERIALIZED (${page})
             SELECT *, NULL::boolean AS stream_exists FROM page
             UNION ALL
             SELECT ${EVENT_COLUMNS.split(', ').map(() => 'NULL').join(', ')},
                    EXISTS (SELECT 1 FROM eventstore.streams WHERE stream_id = $1 AND revision >= 0)
              WHERE NOT EXISTS (SELECT 1 FROM page)
             ORDER BY revision ${direction} NULLS LAST`
          : page,
        [stream, cursor?.toString() ?? null, pageSize],
      );
      if (first && rows.length === 1 && rows[0].event_id === null) {
        if (!rows[0].stream_exists) throw EventStoreError.streamNotFound(stream);
        rows.length = 0;
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

  /**
   * The statements every command runs (read its stream, append) as named prepared statements:
   * Postgres parses and plans them once per connection instead of per call. Only through our own
   * pool on a real server: PGlite serves every socket from one backend, where two connections
   * preparing the same name would collide.
   */
  private hotQuery<R extends QueryResultRow>(client: Queryable, name: string, text: string, values: unknown[]): Promise<QueryResult<R>> {
    if (client !== this.db || this.db.isPglite) return client.query<R>(text, values);
    return this.db.pool.query<R>({ name, text, values });
  }

  async close(): Promise<void> {
    // The Database is owned by whoever created this store.
  }

  /** Events in (after, upTo], which are all final because upTo is at or below the head. */
  async pageForwards(after: Position, upTo: Position, filter: EventFilter | undefined, limit: number): Promise<EventRow[]> {
    const values = new SqlValues(false, 5);
    const where = filterSql(filter, values);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM eventstore.events
        WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint) ${where}
        ORDER BY events.transaction_id, events.position LIMIT ${Number(limit)}`,
      [after.commit.toString(), after.prepare.toString(), upTo.commit.toString(), upTo.prepare.toString(), ...values.params],
    );
    return rows;
  }

  /**
   * One subscription read: events after `after` whose transaction is below the commit horizon (all
   * final), plus the head below that horizon (for the round's checkpoint) in the same statement.
   * `horizon`: a known one (a later page of the same round), or 'new round': the horizon statement
   * goes first in the same message (one round trip), and its value comes back for the next pages.
   * Either way the page's snapshot is taken after the horizon's, as the horizon's safety argument
   * needs.
   */
  async pageBelowHorizon(
    after: Position,
    horizon: bigint | 'new round',
    filter: EventFilter | undefined,
    limit: number,
  ): Promise<{ rows: EventRow[]; head?: Position; horizon: bigint }> {
    type PageRow = EventRow & { head_transaction_id: string; head_position: string };
    // A new round's message is one simple-protocol query, so its values are quoted in, not bound.
    const sql = new SqlValues(horizon === 'new round');
    const below = horizon === 'new round' ? `current_setting('${HORIZON_SETTING}')::xid8` : `${sql.add(horizon.toString())}::text::xid8`;
    const afterCommit = `${sql.add(after.commit.toString())}::text::xid8`;
    const afterPrepare = `${sql.add(after.prepare.toString())}::bigint`;
    const where = filterSql(filter, sql);
    const page = `SELECT h.head_transaction_id, h.head_position, p.* FROM
         (SELECT transaction_id::text AS head_transaction_id, position AS head_position FROM eventstore.events
           WHERE transaction_id < ${below} ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1) h
         LEFT JOIN LATERAL (
           SELECT ${EVENT_COLUMNS}, events.transaction_id AS page_transaction_id FROM eventstore.events
            WHERE (transaction_id, position) > (${afterCommit}, ${afterPrepare}) AND transaction_id < ${below} ${where}
            ORDER BY events.transaction_id, events.position LIMIT ${Number(limit)}) p ON true
       ORDER BY p.page_transaction_id, p.position`;
    let rows: PageRow[];
    if (horizon === 'new round') {
      const results = (await this.db.query(`${HORIZON_STATEMENT};\n${page}`)) as unknown as [QueryResult<{ horizon: string }>, QueryResult<PageRow>];
      horizon = BigInt(results[0].rows[0].horizon);
      rows = results[1].rows;
    } else {
      rows = (await this.db.query<PageRow>(page, sql.params)).rows;
    }
    if (rows.length === 0) return { rows: [], horizon };
    const head = toPosition({ transaction_id: rows[0].head_transaction_id, position: rows[0].head_position });
    return { rows: rows[0].event_id === null ? [] : rows, head, horizon };
  }

  /** Events before `before` (or at it, when inclusive) and at or below the head, newest first. */
  private async pageBackwards(before: Position, inclusive: boolean, head: Position, filter: EventFilter | undefined, limit: number) {
    const values = new SqlValues(false, 5);
    const where = filterSql(filter, values);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM eventstore.events
        WHERE (transaction_id, position) ${inclusive ? '<=' : '<'} ($1::text::xid8, $2::bigint)
          AND (transaction_id, position) <= ($3::text::xid8, $4::bigint) ${where}
        ORDER BY events.transaction_id DESC, events.position DESC LIMIT ${Number(limit)}`,
      [before.commit.toString(), before.prepare.toString(), head.commit.toString(), head.prepare.toString(), ...values.params],
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
    // The payload is the appended stream: a subscriber whose prefixes cannot match it has nothing
    // to read, so it is not woken (a control projector stays asleep through run appends). Safe
    // because a NOTIFY is only a hint; the poll still runs.
    const prefixes = this.options.filter?.streamPrefixes;
    this.unlisten = await this.db.listen(APPENDED_CHANNEL, (stream) => {
      if (!prefixes?.length || !stream || prefixes.some((prefix) => stream.startsWith(prefix))) this.waker.wake();
    });
    let cursor = this.options.fromPosition === 'start' || !this.options.fromPosition ? START : this.options.fromPosition;
    let lastCheckpoint = cursor;
    let caughtUp = false;
    let failures = 0;
    try {
      // The commit horizon of this round: everything below it is final, so pages below it need no
      // new horizon (catch-up reads one horizon per round, not one per page). Each page also
      // returns the head below the horizon; a round's first page goes in one message with its
      // horizon: one round trip per live round.
      let horizon: bigint | 'new round' = 'new round';
      let head: Position | undefined;
      while (!this.closed) {
        let rows: EventRow[];
        try {
          const page = await this.store.pageBelowHorizon(cursor, horizon, this.options.filter, SUBSCRIPTION_PAGE_SIZE);
          rows = page.rows;
          head = page.head;
          horizon = page.horizon;
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
        if (rows.length === SUBSCRIPTION_PAGE_SIZE) continue;
        // The round is done: the next one starts from a new horizon.
        horizon = 'new round';
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

/** An expectation as eventstore.append_events reads it: 'any' | 'no_stream' | 'stream_exists' | a revision in decimal. */
function expectationText(expected: ExpectedRevision): string {
  return typeof expected === 'bigint' ? expected.toString() : expected;
}

/** Code-unit order, the same in every process (localeCompare is not). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function actualRevision(current: bigint): ActualRevision {
  return current < 0n ? 'no_stream' : current;
}

/** eventstore.append_events' own SQLSTATEs (migrations/0010) as port errors. */
function appendError(error: unknown, stream: string, expected: ExpectedRevision): unknown {
  const { code, detail } = error as { code?: string; detail?: string };
  if (code === 'KH001') {
    return new EventStoreError(
      'INVALID_ARGUMENT',
      'append must be the first write of its transaction (it already has a transaction id, so a reader may have passed it)',
    );
  }
  if (code === 'KH002') return EventStoreError.wrongExpectedVersion(stream, String(expected), actualRevision(BigInt(detail ?? '-1')));
  return error;
}

function filterSql(filter: EventFilter | undefined, sql: SqlValues): string {
  const clauses: string[] = [];
  if (filter?.streamPrefixes?.length) {
    const categories = filter.streamPrefixes.filter(isWholeCategoryPrefix).map((prefix) => prefix.slice(0, -1));
    const others = filter.streamPrefixes.filter((prefix) => !isWholeCategoryPrefix(prefix));
    const prefixClauses: string[] = [];
    if (categories.length) prefixClauses.push(`category = ANY(${sql.add(categories)}::text[])`);
    if (others.length) {
      const patterns = others.map((prefix) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%');
      prefixClauses.push(`stream_id LIKE ANY(${sql.add(patterns)}::text[])`);
    }
    clauses.push(`(${prefixClauses.join(' OR ')})`);
  }
  if (filter?.eventTypes?.length) clauses.push(`event_type = ANY(${sql.add(filter.eventTypes)}::text[])`);
  return clauses.map((clause) => `AND ${clause}`).join(' ');
}

/**
 * A statement's values: bound as $n parameters, or quoted into the text for a simple-protocol
 * message (which carries no parameters). Values are numbers in decimal text, stream prefixes and
 * event types.
 */
class SqlValues {
  readonly params: unknown[] = [];

  constructor(
    private readonly inline: boolean,
    firstParam = 1,
  ) {
    this.next = firstParam;
  }

  private next: number;

  add(value: string | string[]): string {
    if (!this.inline) {
      this.params.push(value);
      return `$${this.next++}`;
    }
    return Array.isArray(value) ? `ARRAY[${value.map((item) => escapeLiteral(item)).join(', ')}]::text[]` : escapeLiteral(value);
  }
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

