/**
 * Seeds run events straight into the store's own schema (eventstore.events + eventstore.streams)
 * with set-based INSERT ... SELECT generate_series: not the append path, which the `append`
 * scenario measures; a read-side benchmark only needs the rows to be exactly what appends write.
 *
 * Shape: runs of `eventsPerRun` events (RunCreated, RunStarted, RunTextDelta…, RunFinished),
 * `activeRuns` runs interleaved at a time (as concurrent runs are), spread over `orgs` orgs.
 * Each chunk is its own transaction, so events span many transaction ids like real traffic.
 */
import { Queryable } from '../../../libs/platform/src/index';

export const RUN_SHAPE = { eventsPerRun: 50, activeRuns: 200, orgs: 10, textBytes: 200 };

/** Runs interleaved at a time for `total` events (fewer for tiny runs), and `total` rounded up to whole blocks of them. */
export function runLayout(requested: number): { total: number; activeRuns: number; runs: number } {
  const activeRuns = Math.max(1, Math.min(RUN_SHAPE.activeRuns, Math.floor(requested / RUN_SHAPE.eventsPerRun)));
  const block = activeRuns * RUN_SHAPE.eventsPerRun;
  const total = Math.ceil(requested / block) * block;
  return { total, activeRuns, runs: total / RUN_SHAPE.eventsPerRun };
}

export async function seedKhalaRuns(db: Queryable, total: number, activeRuns: number, chunk = 50_000): Promise<void> {
  const { eventsPerRun, orgs, textBytes } = RUN_SHAPE;
  const block = activeRuns * eventsPerRun;
  for (let from = 0; from < total; from += chunk) {
    const to = Math.min(total, from + chunk) - 1;
    // Event i belongs to run (i / block) * activeRuns + (i % block) % activeRuns at revision (i % block) / activeRuns.
    await db.query(
      `INSERT INTO eventstore.events (event_id, stream_id, category, revision, event_type, data, metadata)
       SELECT md5('bench' || i)::uuid, 'run-bench_' || run, 'run', rev,
              CASE WHEN rev = 0 THEN 'RunCreated' WHEN rev = 1 THEN 'RunStarted' WHEN rev = ${eventsPerRun - 1} THEN 'RunFinished' ELSE 'RunTextDelta' END,
              CASE WHEN rev = 0 THEN jsonb_build_object('run_id', 'bench_' || run, 'org_id', 'org_bench_' || (run % ${orgs}), 'actor_user_id', 'user_bench',
                                                       'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'thread_id', 'thread-' || run,
                                                       'metadata', jsonb_build_object('source', 'bench'))
                   ELSE jsonb_build_object('run_id', 'bench_' || run, 'org_id', 'org_bench_' || (run % ${orgs}), 'actor_user_id', 'user_bench',
                                           'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'frame_id', 'frame-' || i,
                                           'payload', jsonb_build_object('text', repeat('x', ${textBytes}))) END,
              jsonb_build_object('correlation_id', 'corr-' || run, 'causation_id', '', 'actor', 'user_bench', 'schema_version', 1)
         FROM (SELECT i, (i / ${block}) * ${activeRuns} + (i % ${block}) % ${activeRuns} AS run, (i % ${block}) / ${activeRuns} AS rev
                 FROM generate_series($1::bigint, $2::bigint) AS i) AS g
        ORDER BY i`,
      [from, to],
    );
  }
  await db.query(
    `INSERT INTO eventstore.streams (stream_id, category, revision)
     SELECT stream_id, 'run', max(revision) FROM eventstore.events WHERE category = 'run' GROUP BY stream_id`,
  );
  await db.query('ANALYZE eventstore.events');
}

/** The same run as seedKhalaRuns writes, as Emmett events for its stream (`run-bench_<run>`). */
export function emmettRunEvents(run: number, activeRuns: number, occurredAt: string) {
  const block = activeRuns * RUN_SHAPE.eventsPerRun;
  // Inverse of the seed's layout: the global index of the run's event at revision `rev`.
  const eventIndex = (rev: number) => Math.floor(run / activeRuns) * block + rev * activeRuns + (run % activeRuns);
  const { eventsPerRun, orgs, textBytes } = RUN_SHAPE;
  return Array.from({ length: eventsPerRun }, (_, rev) => {
    const type = rev === 0 ? 'RunCreated' : rev === 1 ? 'RunStarted' : rev === eventsPerRun - 1 ? 'RunFinished' : 'RunTextDelta';
    const common = { run_id: `bench_${run}`, org_id: `org_bench_${run % orgs}`, actor_user_id: 'user_bench', occurred_at: occurredAt };
    const data =
      rev === 0
        ? { ...common, thread_id: `thread-${run}`, metadata: { source: 'bench' } }
        : { ...common, frame_id: `frame-${eventIndex(rev)}`, payload: { text: 'x'.repeat(textBytes) } };
    return { type, data, metadata: { correlation_id: `corr-${run}`, causation_id: '', actor: 'user_bench', schema_version: 1 } };
  });
}
