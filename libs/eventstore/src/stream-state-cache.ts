/** A stream's folded state at one revision, with the ids of its events and the revision of each. */
export interface CachedStreamState<State> {
  state: State;
  revision: bigint;
  /** Event id (lower case) → its revision in the stream. */
  eventIds: ReadonlyMap<string, bigint>;
}

/** Budget of the cache in event ids kept (a stream costs its event count + 1). */
const MAX_CACHED_EVENT_IDS = 200_000;

/**
 * The last state this process saw per stream, so a command can decide without reading the
 * stream first. Safe because it is only ever a guess: a decision made from it is appended at
 * exactly its revision, so if anything else (another instance) appended since, the append is
 * refused with WRONG_EXPECTED_VERSION and the command reads the events appended after that
 * revision and decides again. An outcome other than an append is confirmed by such a read before
 * it is answered (see CommandExecutor; commands of one stream in one process queue, so they
 * never race each other over an entry). One cache per (executor, event store, decider): states
 * of different stores or aggregate types never mix.
 */
export class StreamStateCache<State> {
  private readonly entries = new Map<string, CachedStreamState<State>>();
  private cost = 0;

  get(stream: string): CachedStreamState<State> | undefined {
    return this.entries.get(stream);
  }

  /** Keeps `entry` unless a newer revision of the stream is already kept. */
  put(stream: string, entry: CachedStreamState<State>): void {
    const current = this.entries.get(stream);
    if (current && current.revision > entry.revision) return;
    this.forget(stream);
    this.entries.set(stream, entry);
    this.cost += entry.eventIds.size + 1;
    // Oldest first (Map keeps insertion order; a put re-inserts): drop until within budget.
    for (const oldest of this.entries.keys()) {
      if (this.cost <= MAX_CACHED_EVENT_IDS || oldest === stream) break;
      this.forget(oldest);
    }
  }

  forget(stream: string): void {
    const current = this.entries.get(stream);
    if (!current) return;
    this.entries.delete(stream);
    this.cost -= current.eventIds.size + 1;
  }
}
