import { BACKWARDS, END, EventStoreDBClient, FORWARDS, START } from '@eventstore/db-client';
import {
  AppendOptions,
  AppendResult,
  appendSizeOf,
  comparePositions,
  EventStore,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../event-store.port';
import { isSystemEvent, matchesFilter, toEventData, toPortError, toRecordedEvent } from './esdb-mapping';
import { EsdbSubscription } from './esdb-subscription';
import { appendTooLarge, ESDB_DEFAULT_MAX_APPEND_SIZE, maxAppendSizeOf, withoutMaxAppendSize } from './esdb-request-cap';

export interface EsdbEventStoreOptions {
  /** First resubscribe delay after a dropped subscription; doubles per failure, capped at 5 s. */
  reconnectDelayMs?: number;
  /**
   * The server's `MaxAppendSize`: an append over it is refused here (APPEND_TOO_LARGE) before it is
   * sent. Default: the URL's `maxAppendSize` option, else 1 MiB (the server default).
   */
  maxAppendSize?: number;
}

/**
 * EventStoreDB / KurrentDB through @eventstore/db-client: the production authority. Revisions and
 * positions are the server's own; this adapter only maps shapes and errors, adds exclusive read
 * starts and client-side filtering where the client library has no server-side option, and
 * resubscribes after failures.
 */
export interface EsdbSubscriptionStats {
  open: number;
  /** Resubscriptions after transient failures, over every subscription this store made. */
  reconnects: number;
  /** Messages read from the server and not yet taken, over the open subscriptions. */
  buffered: number;
  /** The position each open subscription last passed on (absent before its first). */
  positions: Position[];
}

/** `kurrentdb[+discover]://` → `esdb[+discover]://` without our options: what @eventstore/db-client parses. */
export function toEsdbConnectionString(url: string): string {
  return withoutMaxAppendSize(url).replace(/^kurrentdb(\+discover)?:\/\//, (_match, discover: string | undefined) => `esdb${discover ?? ''}://`);
}

/** How long close waits for the client's calls to end before it closes the channel under them. */
const DISPOSE_WAIT_MS = 2_000;

/**
 * Ends the client's calls and its channel (dispose() leaves the channel and its timers open). A
 * client that never connected (its discovery failed) has no channel, and asking for one retries
 * discovery and throws: closing must not fail an app's shutdown over it.
 *
 * dispose() cancels every call and waits for each to end; a call cancelled while its stream was
 * paused (a subscription's, or a read's left early) was seen never to end, which hung close for
 * good (test/eventstore/esdb-close). The wait is therefore bounded.
 */
export async function disposeEsdbClient(client: EventStoreDBClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, DISPOSE_WAIT_MS)));
  await Promise.race([client.dispose(), waited]);
  clearTimeout(timer);
  const channel = await (client as unknown as { getChannel?: () => Promise<{ close(): void }> }).getChannel?.().catch(() => undefined);
  channel?.close();
}

export class EsdbEventStore implements EventStore {
  private readonly reconnectDelayMs: number;
  /** The append limit checked before sending (the server checks it too). */
  readonly maxAppendSize: number;
  private readonly subscriptions = new Set<EsdbSubscription>();
  private reconnectsOfClosed = 0;

  constructor(
    private readonly client: EventStoreDBClient,
    options: EsdbEventStoreOptions = {},
  ) {
    this.reconnectDelayMs = options.reconnectDelayMs ?? 250;
    this.maxAppendSize = options.maxAppendSize ?? ESDB_DEFAULT_MAX_APPEND_SIZE;
  }

  /**
   * Accepts `esdb://`, `esdb+discover://` and the KurrentDB spellings of the same, with what a
   * secure cluster needs in the URL: `username:password@` (sent on every call) and
   * `?tls=true&tlsCAFile=/path/ca.crt` (the CA that signed the nodes' certificates), and ours:
   * `maxAppendSize=<bytes>` when the server's MaxAppendSize is not the default.
   */
  static connect(url: string, options: EsdbEventStoreOptions = {}): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(toEsdbConnectionString(url)), {
      maxAppendSize: maxAppendSizeOf(url),
      ...options,
    });
  }

  async append(stream: string, events: NewEvent[], { expectedRevision }: AppendOptions): Promise<AppendResult> {
    // Refused here, with the same answer the server would give, so an append that cannot be
    // stored costs no round trip (and a body that came without Content-Length is measured too).
    if (appendSizeOf(events) > this.maxAppendSize) throw appendTooLarge(this.maxAppendSize, `append to ${stream}`, stream);
    try {
      const result = await this.client.appendToStream(stream, events.map(toEventData), { expectedRevision });
      // The server may omit the position (an empty append, or some versions' idempotent replays).
      const position = result.position ?? (await this.positionOfRevision(stream, result.nextExpectedRevision));
      return { nextExpectedRevision: result.nextExpectedRevision, position };
    } catch (error) {
      throw toPortError(error, stream, String(expectedRevision));
    }
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const reader = this.client.readStream(stream, {
      fromRevision: from === 'start' ? START : from === 'end' ? END : from,
      direction: backwards ? BACKWARDS : FORWARDS,
      maxCount: options.maxCount,
    });
    try {
      for await (const resolved of reader) {
        if (resolved.event) yield toRecordedEvent(resolved.event);
      }
    } catch (error) {
      throw toPortError(error, stream);
    } finally {
      // On a broken connection cancel() can throw too; it must not replace the mapped error above.
      await Promise.resolve()
        .then(() => reader.cancel())
        .catch(() => undefined);
    }
  }

  /**
   * The client library sends $all reads unfiltered, so filtering (and skipping the server's own
   * `$` events) happens here; the start position is made exclusive here too, whatever the server
   * does with an event sitting exactly at it.
   */
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    if ((!backwards && from === 'end') || (backwards && from === 'start')) return;
    const limit = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const reader = this.client.readAll({
      fromPosition: from === 'start' ? START : from === 'end' ? END : from,
      direction: backwards ? BACKWARDS : FORWARDS,
    });
    let yielded = 0;
    try {
      for await (const resolved of reader) {
        if (yielded >= limit) return;
        const event = resolved.event;
        if (!event || isSystemEvent(event) || !matchesFilter(event, options.filter)) continue;
        const recorded = toRecordedEvent(event);
        if (typeof from === 'object') {
          const order = comparePositions(recorded.position, from);
          if (backwards ? order >= 0 : order <= 0) continue;
        }
        yield recorded;
        yielded += 1;
        if (yielded >= limit) return;
      }
    } catch (error) {
      throw toPortError(error);
    } finally {
      // On a broken connection cancel() can throw too; it must not replace the mapped error above.
      await Promise.resolve()
        .then(() => reader.cancel())
        .catch(() => undefined);
    }
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const subscription: EsdbSubscription = new EsdbSubscription(this.client, options, this.reconnectDelayMs, () => {
      this.subscriptions.delete(subscription);
      this.reconnectsOfClosed += subscription.reconnects;
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  subscriptionStats(): EsdbSubscriptionStats {
    const open = [...this.subscriptions];
    return {
      open: open.length,
      reconnects: this.reconnectsOfClosed + open.reduce((total, subscription) => total + subscription.reconnects, 0),
      buffered: open.reduce((total, subscription) => total + subscription.buffered(), 0),
      positions: open.flatMap((subscription) => (subscription.lastPosition ? [subscription.lastPosition] : [])),
    };
  }

  async headPosition(): Promise<Position | undefined> {
    for await (const event of this.readAll({ direction: 'backwards', maxCount: 1 })) return event.position;
    return undefined;
  }

  async close(): Promise<void> {
    await disposeEsdbClient(this.client);
  }

  private async positionOfRevision(stream: string, revision: bigint): Promise<Position> {
    if (revision >= 0n) {
      for await (const event of this.readStream(stream, { fromRevision: revision, maxCount: 1 })) return event.position;
    }
    return (await this.headPosition()) ?? { commit: 0n, prepare: 0n };
  }
}
