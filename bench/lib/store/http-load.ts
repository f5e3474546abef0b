/**
 * Child process of the `append` benchmark: the HTTP load generator, pinned away from the server.
 *
 * Closed loop: `concurrency` lanes, each sending its next command when the previous one has been
 * answered. In a closed loop the intended send time of a request IS its actual send time (there is
 * no schedule to fall behind), so latency is measured per request, from just before the request is
 * written to the end of the response body; throughput is what the server sustains at that many
 * requests in flight. Each lane has its own keep-alive socket (keep-alive-client.ts): `fetch` cost
 * this process more CPU per request than the server spent answering it.
 *
 * Each lane owns one run at a time: POST /runs (RunCreated), one run.started frame, then one
 * run.text_delta frame per request, and a new run after `eventsPerRun` events; every command
 * appends exactly one event. No Idempotency-Key header (that is a separate, costlier path).
 * Prints one JSON line: the latency histogram, counts, and every accepted command per run in the
 * order it was acknowledged, for the parent's integrity check.
 */
import { LatencyHistogram } from '../../lib/histogram';
import { reply } from './child-process';
import { KeepAliveConnection } from './keep-alive-client';

export interface LoadConfig {
  runtime: string;
  token: string;
  /**
   * 'khala' (default): runs and frames as above. 'emmett-http': the same one-event commands to the
   * Emmett HTTP peer (emmett-http-server.ts), one stream per lane at a time, the expected version
   * in If-Match; `runtime` is then its URL and `token` is unused.
   */
  target?: 'khala' | 'emmett-http';
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  eventsPerRun: number;
  textBytes: number;
}

/** One run as the load generator saw it: acknowledged items in order, with the revision the server reported. */
export interface AcceptedRun {
  runId: string;
  /** 'created', then frame ids. */
  items: string[];
  revisions: number[];
}

export interface LoadResult {
  histogram: string;
  ok: number;
  /** Every response received in the cell, warm-up included (the parent divides the server's CPU by it). */
  answered: number;
  errors: Record<string, number>;
  seconds: number;
  runs: AcceptedRun[];
}

const REQUEST_TIMEOUT_MS = 30_000;

async function main(config: LoadConfig): Promise<LoadResult> {
  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const runs: AcceptedRun[] = [];
  const text = 'x'.repeat(config.textBytes);
  const headers = { authorization: `Bearer ${config.token}`, 'content-type': 'application/json' };
  let ok = 0;
  let answered = 0;
  const started = performance.now();
  const warmupEnd = started + config.warmupSeconds * 1000;
  const end = warmupEnd + config.seconds * 1000;

  async function send(connection: KeepAliveConnection, path: string, body: unknown, extraHeaders?: Record<string, string>): Promise<{ status: number; json?: Record<string, unknown>; outcome: string }> {
    const sentAt = performance.now();
    let outcome: string;
    let status = 0;
    let json: Record<string, unknown> | undefined;
    try {
      const response = await connection.request('POST', path, extraHeaders ? { ...headers, ...extraHeaders } : headers, JSON.stringify(body));
      status = response.status;
      answered++;
      json = safeJson(response.body);
      outcome = status < 300 ? 'ok' : `${status} ${String(json?.code ?? 'unparsable')}`;
    } catch (error) {
      outcome = (error as Error).name === 'TimeoutError' ? 'timeout' : `error ${(error as Error).message}`;
    }
    const answeredAt = performance.now();
    if (sentAt >= warmupEnd && answeredAt <= end) {
      histogram.recordMs(answeredAt - sentAt);
      if (outcome === 'ok') ok++;
      else errors[outcome] = (errors[outcome] ?? 0) + 1;
    }
    return { status, json, outcome };
  }

  /** A lane of the Emmett HTTP peer: one event per request at the stream's exact version (Emmett's new stream is version 0). */
  async function emmettLane(lane: number, connection: KeepAliveConnection): Promise<void> {
    let stream: AcceptedRun | undefined;
    let streams = 0;
    while (performance.now() < end) {
      if (!stream || stream.items.length >= config.eventsPerRun) {
        stream = { runId: `emmett-c${config.concurrency}-${lane}-${streams++}`, items: [], revisions: [] };
        runs.push(stream);
      }
      const version = stream.items.length;
      const data = { run_id: stream.runId, seq: version + 1, frame_id: `f${version}`, text };
      const answer = await send(connection, `/streams/${stream.runId}/events`, { type: 'RunTextDelta', data }, { 'if-match': `W/"${version}"` });
      if (answer.outcome === 'ok') {
        stream.items.push(`f${version}`);
        stream.revisions.push(Number(answer.json!.next_expected_version));
      }
    }
  }

  await Promise.all(
    Array.from({ length: config.concurrency }, async (_, lane) => {
      const connection = new KeepAliveConnection(config.runtime, REQUEST_TIMEOUT_MS);
      if (config.target === 'emmett-http') {
        await emmettLane(lane, connection);
        connection.close();
        return;
      }
      let run: AcceptedRun | undefined;
      let frame = 0;
      while (performance.now() < end) {
        if (!run || run.items.length >= config.eventsPerRun) {
          const created = await send(connection, '/api/runtime/runs', { thread_id: 'bench' });
          if (created.outcome !== 'ok') continue;
          run = { runId: String(created.json!.run_id), items: ['created'], revisions: [Number(created.json!.revision)] };
          runs.push(run);
          frame = 0;
          continue;
        }
        const frameId = frame === 0 ? 'start' : `f${frame}`;
        const type = frame === 0 ? 'run.started' : 'run.text_delta';
        frame += 1;
        const answer = await send(connection, `/api/runtime/runs/${run.runId}/frames`, { frames: [{ frame_id: frameId, type, payload: frame === 1 ? {} : { text } }] });
        if (answer.outcome === 'ok') {
          run.items.push(frameId);
          run.revisions.push(Number(answer.json!.revision));
        }
      }
      connection.close();
    }),
  );
  return { histogram: histogram.encode(), ok, answered, errors, seconds: config.seconds, runs };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

// One child serves every level in turn (one JSON line each): a process start per level costs more than a smoke cell.
async function all(config: LoadConfig & { levels: number[] }): Promise<void> {
  for (const concurrency of config.levels) reply(await main({ ...config, concurrency }));
}

all(JSON.parse(process.argv[2]) as LoadConfig & { levels: number[] }).then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`http-load: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
