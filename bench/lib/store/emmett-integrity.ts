/**
 * Reading an Emmett peer's streams back after a run: every acknowledged append must be stored once
 * and in order. Each appended event carries `seq` (1, 2, … within its stream).
 */
import type { PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import type { Integrity } from '../scenario';

/** `acknowledged`: per stream, how many appends the peer answered as done. */
export async function checkEmmettStreams(store: PostgresEventStore, acknowledged: Record<string, number>): Promise<Integrity> {
  const integrity = { gaps: 0, duplicates: 0, reorders: 0 };
  for (const [stream, count] of Object.entries(acknowledged)) {
    const { events } = await store.readStream(stream);
    const seqs = events.map((event) => Number((event.data as { seq: number }).seq));
    integrity.gaps += Math.max(0, count - new Set(seqs).size);
    integrity.duplicates += seqs.length - new Set(seqs).size;
    integrity.reorders += seqs.filter((seq, index) => index > 0 && seq < seqs[index - 1]).length;
  }
  return integrity;
}
