/**
 * Wake-ups sent after a commit the sender already saw, instead of a NOTIFY inside the transaction.
 *
 * A transactional NOTIFY holds Postgres' cluster-wide notify lock from pre-commit until its WAL
 * flush, so every notifying commit in the cluster waits for the previous one: at streaming rates
 * the per-append NOTIFY serialised every command's commit. Here the committed transaction sends no
 * NOTIFY; listeners in this process (every Database on the same database) are woken at once, and
 * other processes get one NOTIFY statement per flush, carrying every payload that accumulated while
 * the previous one was in flight. A wake-up is a hint either way: listeners re-read, and poll.
 */

/** Identifies one database (not one role): every Database connected to it shares its local wake-ups. */
export function databaseTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}/${decodeURIComponent(parsed.pathname.slice(1))}`;
  } catch {
    return url;
  }
}

/** Marks a cross-process notice with its sender, so the sender's own listeners (already woken) skip it. */
const ORIGIN_MARK = '\u001e';
const ORIGIN = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
// NOTIFY payloads must stay under 8000 bytes; past this many payloads, one empty payload wakes all.
const MAX_PAYLOADS_PER_CHANNEL = 64;

export interface LocalListener {
  deliverLocally(channel: string, payload: string, detail?: unknown): void;
}

const localListeners = new Map<string, Set<LocalListener>>();

export function registerLocalListener(target: string, listener: LocalListener): () => void {
  let set = localListeners.get(target);
  if (!set) localListeners.set(target, (set = new Set()));
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) localListeners.delete(target);
  };
}

export function deliverLocally(target: string, channel: string, payload: string, detail?: unknown): void {
  for (const listener of localListeners.get(target) ?? []) listener.deliverLocally(channel, payload, detail);
}

/** Tags a payload for other processes. */
export function tagWithOrigin(payload: string): string {
  return `${ORIGIN_MARK}${ORIGIN}${ORIGIN_MARK}${payload}`;
}

/**
 * The payload a listener should see, or undefined for this process's own notice (its listeners
 * were woken locally when it was sent). Untagged payloads (a NOTIFY inside someone's transaction)
 * pass through unchanged.
 */
export function untagForeign(raw: string): string | undefined {
  if (!raw.startsWith(ORIGIN_MARK)) return raw;
  const end = raw.indexOf(ORIGIN_MARK, 1);
  if (end < 0) return raw;
  return raw.slice(1, end) === ORIGIN ? undefined : raw.slice(end + 1);
}

/**
 * Sends accumulated notices to other processes, one statement at a time: while one is in flight,
 * new payloads wait (deduplicated per channel) and go out together when it returns.
 */
export class NoticeBatcher {
  private readonly pending = new Map<string, Set<string>>();
  private flushing?: Promise<void>;

  constructor(private readonly send: (channels: string[], payloads: string[]) => Promise<unknown>) {}

  add(channel: string, payload: string): void {
    let payloads = this.pending.get(channel);
    if (!payloads) this.pending.set(channel, (payloads = new Set()));
    payloads.add(payload);
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Resolves once every notice added so far has been sent (or failed): before a pool closes. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const channels: string[] = [];
      const payloads: string[] = [];
      for (const [channel, set] of this.pending) {
        for (const payload of set.size > MAX_PAYLOADS_PER_CHANNEL ? [''] : set) {
          channels.push(channel);
          payloads.push(tagWithOrigin(payload));
        }
      }
      this.pending.clear();
      // A lost notice costs a poll interval, never an event: listeners re-read on their own.
      await this.send(channels, payloads).catch(() => undefined);
    }
  }
}
