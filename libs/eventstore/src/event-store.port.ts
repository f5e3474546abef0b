/**
 * The event store port: the only way authority is read or written. Revisions are 0-based
 * (EventStoreDB's convention) in every adapter; positions order the whole store.
 */

export type ExpectedRevision = 'no_stream' | 'any' | 'stream_exists' | bigint;

/** A global position: compare by `commit`, then `prepare` (EventStoreDB's $all position shape). */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export interface EventMetadata {
  correlation_id: string;
  causation_id: string;
  actor: string;
  schema_version: number;
  [extra: string]: unknown;
}

export interface NewEvent {
  /** Deterministic UUID (see deterministicEventId) so a retried append is recognised. */
  id: string;
  type: string;
  /** Proto-JSON of the generated event message (snake_case field names). */
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export interface RecordedEvent {
  id: string;
  stream: string;
  revision: bigint;
  position: Position;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  created: Date;
}

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
}

export interface AppendResult {
  nextExpectedRevision: bigint;
  position: Position;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  /** Inclusive; 'start' (default forwards) or 'end' (default backwards). */
  fromRevision?: bigint | 'start' | 'end';
  direction?: Direction;
  maxCount?: number;
}

export interface EventFilter {
  /** Stream name prefixes, e.g. `run-` for the run category. */
  streamPrefixes?: string[];
  eventTypes?: string[];
}

export interface ReadAllOptions {
  /** Exclusive; 'start' (default forwards) or 'end' (default backwards). */
  fromPosition?: Position | 'start' | 'end';
  direction?: Direction;
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscribeOptions {
  /** Exclusive: the subscription starts after this position. */
  fromPosition?: Position | 'start';
  filter?: EventFilter;
  /**
   * Emit a checkpoint after this many scanned events (matching or not) and whenever the
   * subscription goes idle, so a consumer of a sparse filter can still advance its checkpoint.
   */
  checkpointInterval?: number;
}

export type SubscriptionMessage =
  | { kind: 'event'; event: RecordedEvent }
  /** Everything up to and including `position` has been delivered (or did not match). */
  | { kind: 'checkpoint'; position: Position }
  /** Catch-up reached the head; what follows is live. Sent once (again after a reconnect). */
  | { kind: 'caughtUp' };

export interface Subscription extends AsyncIterable<SubscriptionMessage> {
  close(): Promise<void>;
}

export interface EventStore {
  /**
   * The most bytes one append may carry, as appendSizeOf counts them (EventStoreDB's
   * `MaxAppendSize`); absent: no limit. Batches of commands are cut to fit it.
   */
  readonly maxAppendSize?: number;
  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** Throws EventStoreError STREAM_NOT_FOUND when the stream has no events. */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** Catch-up then live, in one order that never changes. */
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /** Position of the last event readers can see (for lag metrics); undefined when empty. */
  headPosition(): Promise<Position | undefined>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EVENT_STORE');

/** What EventStoreDB counts against `MaxAppendSize`: each event's type, data and metadata bytes. */
export function appendSizeOf(events: readonly NewEvent[]): number {
  return events.reduce(
    (total, event) => total + Buffer.byteLength(event.type) + Buffer.byteLength(JSON.stringify(event.data)) + Buffer.byteLength(JSON.stringify(event.metadata ?? {})),
    0,
  );
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** `run-abc` → `run`: the category is the part before the first dash (EventStoreDB's convention). */
export function streamCategory(stream: string): string {
  const dash = stream.indexOf('-');
  return dash === -1 ? stream : stream.slice(0, dash);
}
