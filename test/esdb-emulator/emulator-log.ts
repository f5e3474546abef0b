/**
 * FAKE — test support only. The in-memory transaction log behind the EventStoreDB protocol
 * emulator: EventStoreDB's write and read semantics as our tests rely on them, nothing more.
 * Never use it as a store.
 */
import { randomUUID } from 'node:crypto';

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export interface LoggedEvent extends ProposedEvent {
  stream: string;
  /** 0-based, as in EventStoreDB. */
  revision: bigint;
  /** The record's own log position: its prepare position. */
  position: bigint;
  /**
   * The commit position of the write it belongs to: the position of the write's first record, so
   * every event of a multi-event append shares it and only the first has commit = prepare (a
   * server's implicit transaction; `$all` is ordered by commit, then prepare).
   */
  commit: bigint;
  /** 100 ns ticks since the Unix epoch, which the client divides by 10,000 into a Date. */
  createdTicks: string;
}

/** The stream metadata keys the emulator honours (as the server names them). */
export interface StreamMetadata {
  $maxCount?: number;
  /** Seconds. */
  $maxAge?: number;
  /** Truncate before this revision. */
  $tb?: number;
}

/** What the server puts in `$tb` when a stream is soft deleted (EventNumber.DeletedStream). */
const SOFT_DELETED_TB = Number.MAX_SAFE_INTEGER;

export type ExpectedRevision =
  | { kind: 'any' }
  | { kind: 'no_stream' }
  | { kind: 'stream_exists' }
  | { kind: 'revision'; revision: bigint };

/** A position in `$all`, as the protocol carries it. */
export interface LogPosition {
  commit: bigint;
  prepare: bigint;
}

/** `$all` order: commit position, then prepare position. */
export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function positionOf(event: LoggedEvent): LogPosition {
  return { commit: event.commit, prepare: event.position };
}

export type AppendOutcome =
  | { ok: true; currentRevision: bigint | undefined; position: LogPosition | undefined }
  | { ok: false; currentRevision: bigint | undefined };

// Real log positions start after the server's own records and grow by record size; mimic both so
// an adapter cannot get away with assuming positions start at 0 or are contiguous.
const FIRST_POSITION = 4096n;
const RECORD_OVERHEAD = 96n;
const SETTINGS_ID = '00000000-0000-4000-8000-000000005e77';
const STATS_ID = '00000000-0000-4000-8000-0000000057a7';

export interface EmulatorLogOptions {
  /**
   * Write what a server's `$by_category` system projection writes: after each event, a link event
   * (type `$>`, data `<revision>@<stream>`) in `$ce-<category>`. Default true.
   */
  categoryLinks?: boolean;
}

export class EmulatorLog {
  private readonly log: LoggedEvent[] = [];
  private readonly streams = new Map<string, LoggedEvent[]>();
  private readonly listeners = new Set<(events: LoggedEvent[]) => void>();
  private nextPosition = FIRST_POSITION;
  private readonly categoryLinks: boolean;
  private readonly tombstoned = new Set<string>();

  constructor(options: EmulatorLogOptions = {}) {
    this.categoryLinks = options.categoryLinks ?? true;
    // A server's own records come first in every log (settings, statistics): `$` streams and types.
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    this.write('$settings', [{ id: SETTINGS_ID, type: '$settings', contentType: 'application/json', data: json({ $userStreamAcl: {} }), customMetadata: new Uint8Array() }]);
    this.write('$stats-127.0.0.1:2113', [{ id: STATS_ID, type: '$statsCollected', contentType: 'application/json', data: json({ 'proc-cpu': 0 }), customMetadata: new Uint8Array() }]);
  }

  append(stream: string, expected: ExpectedRevision, proposed: ProposedEvent[]): AppendOutcome | { ok: false; deleted: true } {
    if (this.tombstoned.has(stream)) return { ok: false, deleted: true };
    const existing = this.streams.get(stream) ?? [];
    const softDeleted = this.isSoftDeleted(stream);
    // A soft-deleted stream counts as absent for the expectation; its revisions carry on.
    const current = existing.length && !softDeleted ? BigInt(existing.length - 1) : undefined;
    const replay = softDeleted ? undefined : findReplay(existing, expected, proposed);
    if (replay === 'corrupt') return { ok: false, currentRevision: current };
    if (replay) return { ok: true, currentRevision: replay.revision, position: positionOf(replay) };
    if (!matches(expected, current)) return { ok: false, currentRevision: current };
    if (proposed.length === 0) return { ok: true, currentRevision: current, position: undefined };

    const written = this.write(stream, proposed);
    const last = written[written.length - 1];
    // Recreating a soft-deleted stream: the server moves truncate-before to the first new event.
    if (softDeleted) this.writeMetadata(stream, { ...this.metadataOf(stream), $tb: Number(written[0].revision) });
    return { ok: true, currentRevision: last.revision, position: positionOf(last) };
  }

  /** Soft delete: metadata `$tb` past every revision; the stream reads as absent and can be recreated. */
  softDelete(stream: string, expected: ExpectedRevision): AppendOutcome | { ok: false; deleted: true } {
    if (this.tombstoned.has(stream)) return { ok: false, deleted: true };
    const current = this.currentRevision(stream);
    if (!matches(expected, current)) return { ok: false, currentRevision: current };
    const position = this.writeMetadata(stream, { ...this.metadataOf(stream), $tb: SOFT_DELETED_TB });
    return { ok: true, currentRevision: current, position };
  }

  /** Tombstone (hard delete): no read or write of the stream ever again; `$all` keeps what it had. */
  tombstone(stream: string, expected: ExpectedRevision): AppendOutcome | { ok: false; deleted: true } {
    if (this.tombstoned.has(stream)) return { ok: false, deleted: true };
    const current = this.currentRevision(stream);
    if (!matches(expected, current)) return { ok: false, currentRevision: current };
    this.tombstoned.add(stream);
    const position = this.nextPosition;
    this.nextPosition += RECORD_OVERHEAD;
    const record: LoggedEvent = {
      id: randomUUID(),
      type: '$streamDeleted',
      contentType: 'application/octet-stream',
      data: new Uint8Array(),
      customMetadata: new Uint8Array(),
      stream,
      revision: 9223372036854775807n,
      position,
      commit: position,
      createdTicks: (BigInt(Date.now()) * 10_000n).toString(),
    };
    this.log.push(record);
    for (const listener of this.listeners) listener([record]);
    return { ok: true, currentRevision: current, position: positionOf(record) };
  }

  private currentRevision(stream: string): bigint | undefined {
    const existing = this.streams.get(stream) ?? [];
    return existing.length && !this.isSoftDeleted(stream) ? BigInt(existing.length - 1) : undefined;
  }

  private isSoftDeleted(stream: string): boolean {
    return this.metadataOf(stream).$tb === SOFT_DELETED_TB;
  }

  /** The stream's metadata: the last `$metadata` event of `$$<stream>`. */
  private metadataOf(stream: string): StreamMetadata {
    const events = this.streams.get(`$$${stream}`);
    const last = events?.[events.length - 1];
    if (!last) return {};
    try {
      return JSON.parse(Buffer.from(last.data).toString('utf8')) as StreamMetadata;
    } catch {
      return {};
    }
  }

  private writeMetadata(stream: string, metadata: StreamMetadata): LogPosition {
    const [record] = this.write(`$$${stream}`, [
      { id: randomUUID(), type: '$metadata', contentType: 'application/json', data: Buffer.from(JSON.stringify(metadata)), customMetadata: new Uint8Array() },
    ]);
    return positionOf(record);
  }

  /** Writes records at the end of the log (no expectation) and tells the listeners, links included. */
  private write(stream: string, proposed: ProposedEvent[]): LoggedEvent[] {
    const existing = this.streams.get(stream) ?? [];
    const commit = this.nextPosition;
    const written: LoggedEvent[] = proposed.map((event, index) => {
      const position = this.nextPosition;
      this.nextPosition += RECORD_OVERHEAD + BigInt(event.data.length + event.customMetadata.length);
      return {
        ...event,
        stream,
        revision: BigInt(existing.length + index),
        position,
        commit,
        createdTicks: (BigInt(Date.now()) * 10_000n).toString(),
      };
    });
    existing.push(...written);
    this.streams.set(stream, existing);
    this.log.push(...written);
    const links = this.categoryLinks && !stream.startsWith('$') ? this.linkToCategory(written) : [];
    // Synchronous fan-out: a subscription registered after its catch-up read cannot miss a write.
    for (const listener of this.listeners) listener([...written, ...links]);
    return written;
  }

  private linkToCategory(events: LoggedEvent[]): LoggedEvent[] {
    const dash = events[0].stream.indexOf('-');
    if (dash <= 0) return [];
    const category = `$ce-${events[0].stream.slice(0, dash)}`;
    const existing = this.streams.get(category) ?? [];
    const links = events.map((event, index) => {
      const data = Buffer.from(`${event.revision}@${event.stream}`);
      const position = this.nextPosition;
      this.nextPosition += RECORD_OVERHEAD + BigInt(data.length);
      return {
        id: randomUUID(),
        type: '$>',
        contentType: 'application/octet-stream',
        data,
        customMetadata: new Uint8Array(),
        stream: category,
        revision: BigInt(existing.length + index),
        position,
        // The projection writes each link on its own: commit = prepare.
        commit: position,
        createdTicks: event.createdTicks,
      };
    });
    existing.push(...links);
    this.streams.set(category, existing);
    this.log.push(...links);
    return links;
  }

  /**
   * Stream read: inclusive start revision; `undefined` when the stream does not exist (or was soft
   * deleted), `'deleted'` when it was tombstoned. Events the metadata hides are skipped: below
   * `$tb`, beyond the newest `$maxCount`, older than `$maxAge` seconds (`$all` keeps them all).
   */
  readStream(
    stream: string,
    from: bigint | 'start' | 'end',
    backwards: boolean,
    count: number,
  ): LoggedEvent[] | undefined | 'deleted' {
    if (this.tombstoned.has(stream)) return 'deleted';
    const all = this.streams.get(stream);
    if (!all || this.isSoftDeleted(stream)) return undefined;
    const events = this.visible(stream, all);
    const at = (revision: bigint) => events.findIndex((event) => event.revision >= revision);
    if (!backwards) {
      if (from === 'end') return [];
      const start = from === 'start' ? 0 : at(from);
      return start === -1 ? [] : events.slice(start, start + count);
    }
    if (from === 'start') return events.slice(0, 1).filter(() => count > 0);
    let start = events.length - 1;
    if (from !== 'end') {
      start = events.length - 1;
      while (start >= 0 && events[start].revision > from) start -= 1;
    }
    return events.slice(Math.max(0, start - count + 1), start + 1).reverse();
  }

  private visible(stream: string, events: LoggedEvent[]): LoggedEvent[] {
    const metadata = this.metadataOf(stream);
    let visible = events;
    if (typeof metadata.$tb === 'number') visible = visible.filter((event) => event.revision >= BigInt(metadata.$tb!));
    if (typeof metadata.$maxCount === 'number') visible = visible.slice(Math.max(0, visible.length - metadata.$maxCount));
    if (typeof metadata.$maxAge === 'number') {
      const oldest = (BigInt(Date.now()) - BigInt(metadata.$maxAge) * 1000n) * 10_000n;
      visible = visible.filter((event) => BigInt(event.createdTicks) >= oldest);
    }
    return visible;
  }

  /**
   * $all read as the server does it: forwards from a position includes the event at it; backwards
   * returns events before it.
   */
  readAll(from: LogPosition | 'start' | 'end', backwards: boolean, count: number, keep: (event: LoggedEvent) => boolean): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    // The start is found by position (a server seeks; scanning from the first record made every
    // checkpoint check of a long catch-up cost the whole log).
    if (!backwards) {
      if (from === 'end') return out;
      for (let index = from === 'start' ? 0 : this.indexAtOrAfter(from); index < this.log.length && out.length < count; index++) {
        if (keep(this.log[index])) out.push(this.log[index]);
      }
      return out;
    }
    if (from === 'start') return out;
    for (let index = (from === 'end' ? this.log.length : this.indexAtOrAfter(from)) - 1; index >= 0 && out.length < count; index--) {
      if (keep(this.log[index])) out.push(this.log[index]);
    }
    return out;
  }

  /** Events strictly after `after` (a subscription's exclusive start). */
  eventsAfter(after: LogPosition | 'start'): LoggedEvent[] {
    return after === 'start' ? [...this.log] : this.log.filter((event) => compareLogPositions(positionOf(event), after) > 0);
  }

  /** Index in the log of the first event strictly after `after` (the log only grows, so indexes stay valid). */
  indexAfter(after: LogPosition | 'start'): number {
    return after === 'start' ? 0 : this.firstIndex((event) => compareLogPositions(positionOf(event), after) > 0);
  }

  /** Index in the log of the first event at or after `position`. */
  private indexAtOrAfter(position: LogPosition): number {
    return this.firstIndex((event) => compareLogPositions(positionOf(event), position) >= 0);
  }

  /** Binary search over the log, which is in position order: the first index where `past` holds. */
  private firstIndex(past: (event: LoggedEvent) => boolean): number {
    let low = 0;
    let high = this.log.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (past(this.log[middle])) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** Records in the log, the server's own and links included. */
  size(): number {
    return this.log.length;
  }

  /** The event at a log index, or undefined past the end. */
  at(index: number): LoggedEvent | undefined {
    return this.log[index];
  }

  lastPosition(): LogPosition | undefined {
    const last = this.log[this.log.length - 1];
    return last && positionOf(last);
  }

  onAppended(listener: (events: LoggedEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function matches(expected: ExpectedRevision, current: bigint | undefined): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === undefined;
    case 'stream_exists':
      return current !== undefined;
    case 'revision':
      return current === expected.revision;
  }
}

/**
 * EventStoreDB's idempotency check: the same ids already written where this expectation would
 * have put them is acknowledged with the original result. Ids that only partly match are a
 * conflict ("corrupted idempotency" answers WrongExpectedVersion on the server).
 */
function findReplay(existing: LoggedEvent[], expected: ExpectedRevision, proposed: ProposedEvent[]): LoggedEvent | 'corrupt' | undefined {
  if (proposed.length === 0 || expected.kind === 'stream_exists') return undefined;
  let first: number;
  if (expected.kind === 'no_stream') first = 0;
  else if (expected.kind === 'revision') first = Number(expected.revision) + 1;
  else {
    first = existing.findIndex((event) => event.id === proposed[0].id);
    if (first === -1) {
      return existing.some((event) => proposed.some((candidate) => candidate.id === event.id)) ? 'corrupt' : undefined;
    }
  }
  const window = existing.slice(first, first + proposed.length);
  const sameIds = window.length === proposed.length && window.every((event, index) => event.id === proposed[index].id);
  if (sameIds) return window[window.length - 1];
  if (expected.kind === 'any' && window.length > 0 && window[0].id === proposed[0].id) return 'corrupt';
  return undefined;
}
