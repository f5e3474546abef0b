/**
 * Child process of the `append` benchmark: the peer, @event-driven-io/emmett-postgresql 0.42.0's
 * raw library append (getPostgreSQLEventStore(connectionString).appendToStream), pinned where our
 * server runs. Same closed loop as http-load.ts: `concurrency` lanes, one event per append with
 * the exact expected stream version, each lane appending to its own stream and moving to a new
 * one after `eventsPerRun` events; latency per append from call to resolution. The event's data
 * is padded to the byte size of ours. Prints the histogram, counts and each lane's streams.
 */
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { Pool } from 'pg';
import { LatencyHistogram } from '../../lib/histogram';
import { reply } from './child-process';
import { checkEmmettStreams } from './emmett-integrity';

export interface EmmettAppendConfig {
  url: string;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  eventsPerRun: number;
  /** Characters of padding in each event's data, so its stored size matches ours. */
  textBytes: number;
  streamPrefix: string;
}

export interface EmmettAppendResult {
  histogram: string;
  ok: number;
  errors: Record<string, number>;
  seconds: number;
  streams: number;
  /** Read back: acknowledged appends missing, stored twice, or out of order (event n carries seq n). */
  integrity: { gaps: number; duplicates: number; reorders: number };
  meanEventBytes: number;
}

async function main(config: EmmettAppendConfig): Promise<EmmettAppendResult> {
  const store = getPostgreSQLEventStore(config.url);
  // The first call creates Emmett's schema; keep it out of the measurement.
  await store.appendToStream(`${config.streamPrefix}-warm`, [{ type: 'Warm', data: {} }]);
  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const streams: Record<string, number> = {};
  const text = 'x'.repeat(config.textBytes);
  let ok = 0;
  const warmupEnd = performance.now() + config.warmupSeconds * 1000;
  const end = warmupEnd + config.seconds * 1000;
  let nextStream = 0;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      let stream = '';
      let version = config.eventsPerRun;
      while (performance.now() < end) {
        if (version >= config.eventsPerRun) {
          stream = `${config.streamPrefix}-c${config.concurrency}-${nextStream++}`;
          version = 0;
          streams[stream] = 0;
        }
        const sentAt = performance.now();
        let outcome = 'ok';
        try {
          await store.appendToStream(
            stream,
            [{ type: 'RunTextDelta', data: { run_id: stream, seq: version + 1, frame_id: `f${version}`, text } }],
            { expectedStreamVersion: BigInt(version) },
          );
          version += 1;
          streams[stream] = version;
        } catch (error) {
          outcome = `error ${(error as Error).name}`;
        }
        const answeredAt = performance.now();
        if (sentAt >= warmupEnd && answeredAt <= end) {
          histogram.recordMs(answeredAt - sentAt);
          if (outcome === 'ok') ok++;
          else errors[outcome] = (errors[outcome] ?? 0) + 1;
        }
      }
    }),
  );
  const pool = new Pool({ connectionString: config.url, max: 1 });
  const integrity = await checkEmmettStreams(store, streams);
  const { rows } = await pool.query<{ bytes: string | null }>(
    `SELECT avg(octet_length(message_data::text) + octet_length(message_metadata::text)) AS bytes FROM emt_messages WHERE message_type = 'RunTextDelta'`,
  );
  await pool.end();
  await store.close();
  return { meanEventBytes: Math.round(Number(rows[0].bytes ?? 0)), histogram: histogram.encode(), ok, errors, seconds: config.seconds, streams: Object.keys(streams).length, integrity };
}

// One child serves every level in turn (one JSON line each): a process start per level costs more than a smoke cell.
async function all(config: EmmettAppendConfig & { levels: number[] }): Promise<void> {
  for (const concurrency of config.levels) reply(await main({ ...config, concurrency }));
}

all(JSON.parse(process.argv[2]) as EmmettAppendConfig & { levels: number[] }).then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`emmett-append: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
