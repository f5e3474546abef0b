/**
 * Child process of the `hot-stream` benchmark: many writers on ONE run, pinned away from the server.
 *
 * Per cell it creates a fresh run and sends run.started (not measured), then runs `writers`
 * closed-loop lanes for warm-up + `seconds`; answers received in the measured window count
 * (throughput, latency from that request's send, refusals). Lane i talks to
 * runtimes[i % runtimes.length], so with two URLs the writers are split over two runtime processes. Every request appends one
 * run.text_delta frame with an id of its own (`w<lane>-<n>`), no Idempotency-Key. A refused
 * command is not retried: the lane moves on to its next frame, so a refusal shows as lost
 * throughput and in the counts, as a client that gives up would see it.
 * Prints one JSON line per cell: the latency histogram, counts, and per lane the frames the
 * server acknowledged in the order it acknowledged them, for the parent's integrity check.
 */
import { LatencyHistogram } from '../../lib/histogram';
import { reply } from './child-process';
import type { AcceptedRun } from './http-load';

export interface HotStreamCell {
  writers: number;
  /** Runtime base URLs; lane i sends to runtimes[i % runtimes.length]. */
  runtimes: string[];
}

export interface HotStreamLoadConfig {
  token: string;
  cells: HotStreamCell[];
  warmupSeconds: number;
  seconds: number;
  textBytes: number;
}

export interface HotStreamLoadResult {
  runId: string;
  histogram: string;
  ok: number;
  /** 409 concurrency_conflict answers in the measured window. */
  conflicts: number;
  /** Every command not acknowledged in the measured window (conflicts included): any non-2xx, timeout or socket error. */
  refused: number;
  errors: Record<string, number>;
  seconds: number;
  /** The run's setup, then one entry per lane, all on the same run: acknowledged frames in acknowledgement order. */
  lanes: AcceptedRun[];
}

const REQUEST_TIMEOUT_MS = 30_000;

async function post(
  url: string,
  token: string,
  body: unknown,
): Promise<{ status: number; json?: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, json: safeJson(text) };
}

async function cell(
  config: HotStreamLoadConfig,
  { writers, runtimes }: HotStreamCell,
): Promise<HotStreamLoadResult> {
  const created = await post(`${runtimes[0]}/api/runtime/runs`, config.token, {
    thread_id: 'bench-hot-stream',
  });
  if (created.status !== 201)
    throw new Error(`create run: ${created.status} ${JSON.stringify(created.json)}`);
  const runId = String(created.json!.run_id);
  const started = await post(`${runtimes[0]}/api/runtime/runs/${runId}/frames`, config.token, {
    frames: [{ frame_id: 'start', type: 'run.started', payload: {} }],
  });
  if (started.status !== 202) throw new Error(`start run: ${started.status} ${JSON.stringify(started.json)}`);

  const histogram = new LatencyHistogram();
  const errors: Record<string, number> = {};
  const text = 'x'.repeat(config.textBytes);
  let ok = 0;
  let conflicts = 0;
  let refused = 0;
  const warmupEnd = performance.now() + config.warmupSeconds * 1000;
  const end = warmupEnd + config.seconds * 1000;

  const lanes = await Promise.all(
    Array.from({ length: writers }, async (_, lane): Promise<AcceptedRun> => {
      const accepted: AcceptedRun = { runId, items: [], revisions: [] };
      const url = `${runtimes[lane % runtimes.length]}/api/runtime/runs/${runId}/frames`;
      for (let n = 0; performance.now() < end; n++) {
        const frameId = `w${lane}-${n}`;
        const sentAt = performance.now();
        let outcome: string;
        let revision: number | undefined;
        try {
          const answer = await post(url, config.token, {
            frames: [{ frame_id: frameId, type: 'run.text_delta', payload: { text } }],
          });
          outcome =
            answer.status < 300 ? 'ok' : `${answer.status} ${String(answer.json?.code ?? 'unparsable')}`;
          revision = Number(answer.json?.revision);
        } catch (error) {
          outcome =
            (error as Error).name === 'TimeoutError' ? 'timeout' : `error ${(error as Error).message}`;
        }
        const answeredAt = performance.now();
        if (outcome === 'ok') {
          accepted.items.push(frameId);
          accepted.revisions.push(revision!);
        }
        // Every answer inside the window counts, whenever it was sent: under contention a command
        // can take longer than the warm-up, and dropping those would hide exactly the slow ones.
        if (answeredAt < warmupEnd || answeredAt > end) continue;
        histogram.recordMs(answeredAt - sentAt);
        if (outcome === 'ok') {
          ok++;
          continue;
        }
        refused++;
        if (outcome === '409 concurrency_conflict') conflicts++;
        errors[outcome] = (errors[outcome] ?? 0) + 1;
      }
      return accepted;
    }),
  );
  // The run's first two events as one more "lane", so the integrity check accounts for every stored event.
  const setup: AcceptedRun = {
    runId,
    items: ['created', 'start'],
    revisions: [Number(created.json!.revision), Number(started.json!.revision)],
  };
  return {
    runId,
    histogram: histogram.encode(),
    ok,
    conflicts,
    refused,
    errors,
    seconds: config.seconds,
    lanes: [setup, ...lanes],
  };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

// One child serves every cell in turn (one JSON line each); the parent measures between them.
async function all(config: HotStreamLoadConfig): Promise<void> {
  for (const each of config.cells) reply(await cell(config, each));
}

all(JSON.parse(process.argv[2]) as HotStreamLoadConfig).then(
  () => process.exit(0),
  (error: Error) => {
    process.stderr.write(`hot-stream-load: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
