import { EventStore, EventStoreError } from '@khala/eventstore';

export interface EarlierAttempt {
  /** Frames of this request that an earlier attempt of the same command stored. */
  frames: number;
  /** Revision of the last event that attempt appended (-1n when it appended none). */
  revision: bigint;
}

/**
 * What an earlier attempt of this command (same Idempotency-Key) appended, recognised by the
 * causation_id its events carry: a retry after a crash answers from it what that attempt would
 * have answered. Frames that other requests stored carry their own command's id and do not count.
 * Reads the stream once; only asked when some of the request's frames were already stored.
 */
export async function findEarlierAttempt(
  store: EventStore,
  stream: string,
  commandId: string,
  frameEventIds: ReadonlySet<string>,
): Promise<EarlierAttempt> {
  const found: EarlierAttempt = { frames: 0, revision: -1n };
  try {
    for await (const event of store.readStream(stream)) {
      if (event.metadata.causation_id !== commandId) continue;
      found.revision = event.revision; // the attempt's last event may be the run's cancellation
      if (frameEventIds.has(event.id.toLowerCase())) found.frames++;
    }
  } catch (error) {
    if ((error as EventStoreError).code !== 'STREAM_NOT_FOUND') throw error;
  }
  return found;
}
