/**
 * After an `append` run: every command the server acknowledged must have its event in the store
 * exactly once, in acknowledgement order within its stream, at the revision the response named.
 * Several entries may name the same run (`hot-stream`: one per writer on one run); each is then
 * checked in its own acknowledgement order, and a stored event is unacknowledged only if no entry
 * of its run acknowledged it.
 */
import { Database } from '../../../libs/platform/src/index';
import { Integrity } from '../scenario';
import type { AcceptedRun } from './http-load';

export interface AppendIntegrity extends Integrity {
  /** Events stored whose command was never acknowledged (a request that timed out): reported, not a violation. */
  unacknowledgedStored: number;
  /** Mean bytes of data + metadata JSON of the stored text frames (what the peer's events are sized to). */
  meanEventBytes: number;
}

export async function checkAppendIntegrity(
  databaseUrl: string,
  runs: AcceptedRun[],
): Promise<AppendIntegrity> {
  const db = await Database.connect({ url: databaseUrl, max: 1 });
  const result: AppendIntegrity = {
    gaps: 0,
    duplicates: 0,
    reorders: 0,
    unacknowledgedStored: 0,
    meanEventBytes: 0,
  };
  try {
    // Chunks of whole runs, so every entry of a run is checked against the same read.
    const byRun = new Map<string, AcceptedRun[]>();
    for (const run of runs) byRun.set(run.runId, [...(byRun.get(run.runId) ?? []), run]);
    const runIds = [...byRun.keys()];
    for (let offset = 0; offset < runIds.length; offset += 500) {
      const chunk = runIds.slice(offset, offset + 500);
      const { rows } = await db.query<{ stream_id: string; revision: string; item: string }>(
        `SELECT stream_id, revision, CASE WHEN event_type = 'RunCreated' THEN 'created' ELSE data->>'frame_id' END AS item
           FROM eventstore.events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, revision`,
        [chunk.map((runId) => `run-${runId}`)],
      );
      const stored = new Map<string, Array<{ item: string; revision: number }>>();
      for (const row of rows) {
        const list = stored.get(row.stream_id) ?? [];
        list.push({ item: row.item, revision: Number(row.revision) });
        stored.set(row.stream_id, list);
      }
      for (const runId of chunk) {
        const events = stored.get(`run-${runId}`) ?? [];
        const entries = byRun.get(runId)!;
        for (const entry of entries) tally(result, entry, events);
        const acknowledged = new Set(entries.flatMap((entry) => entry.items));
        result.unacknowledgedStored += events.filter((event) => !acknowledged.has(event.item)).length;
      }
    }
    const { rows } = await db.query<{ bytes: string | null }>(
      `SELECT avg(octet_length(data::text) + octet_length(metadata::text)) AS bytes FROM eventstore.events WHERE event_type = 'RunTextDelta'`,
    );
    result.meanEventBytes = Math.round(Number(rows[0].bytes ?? 0));
  } finally {
    await db.close();
  }
  return result;
}

function tally(
  result: AppendIntegrity,
  run: AcceptedRun,
  stored: Array<{ item: string; revision: number }>,
): void {
  const positions = new Map<string, number[]>();
  stored.forEach((event, index) => positions.set(event.item, [...(positions.get(event.item) ?? []), index]));
  let lastIndex = -1;
  run.items.forEach((item, order) => {
    const found = positions.get(item) ?? [];
    if (found.length === 0) return void (result.gaps += 1);
    result.duplicates += found.length - 1;
    const index = found[0];
    // Out of acknowledgement order, or not at the revision the response reported.
    if (index < lastIndex || stored[index].revision !== run.revisions[order]) result.reorders += 1;
    lastIndex = index;
  });
}
