/**
 * The model side of the lifecycle model test: what the HTTP API acknowledged, per org and run,
 * predicted from the run lifecycle (docs/api: created → running → succeeded | failed | canceled,
 * canceling while a running run is asked to stop). Pure: no I/O, so the commands can ask it what a
 * request must answer before they send it.
 */

export type RunStatus = 'created' | 'running' | 'canceling' | 'succeeded' | 'failed' | 'canceled';

const TERMINAL: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'canceled']);

export interface ModelRun {
  runId: string;
  status: RunStatus;
  /** Events the run's stream holds (RunCreated, frames, cancel events): each is one run_events document. */
  events: number;
  /** Frame events (the summary's frame_count). */
  frames: number;
  frameIds: string[];
}

export interface ModelOrg {
  index: number;
  runs: ModelRun[];
}

export interface LifecycleModel {
  orgs: ModelOrg[];
  /** Client ids by connection state (the real clients live in the world). */
  connected: Set<number>;
  offline: Set<number>;
  nextClientId: number;
  /**
   * Runs whose summary a simulated projection bug overwrote (and journaled): the read model no
   * longer shows what was acknowledged until a rebuild of run_summaries repairs it.
   */
  corrupted: Set<string>;
}

export const MAX_CLIENTS_PER_RUN = 6;

export function emptyModel(orgCount: number): LifecycleModel {
  return {
    orgs: Array.from({ length: orgCount }, (_, index) => ({ index, runs: [] })),
    connected: new Set(),
    offline: new Set(),
    nextClientId: 0,
    corrupted: new Set(),
  };
}

export function pickRun(org: ModelOrg, pick: number): ModelRun | undefined {
  return org.runs.length ? org.runs[pick % org.runs.length] : undefined;
}

export function pickFrom(ids: Set<number>, pick: number): number | undefined {
  const list = [...ids].sort((a, b) => a - b);
  return list.length ? list[pick % list.length] : undefined;
}

export interface FramePlan {
  frames: { frame_id: string; type: string; payload: Record<string, unknown> }[];
  /** 202 with the run's new status, or 409 run_terminal (nothing appended). */
  expect: { status: 202; runStatus: RunStatus; events: number } | { status: 409; code: 'run_terminal' };
}

/** The frames an AppendFrames(count, finish) sends to `run` and what the API must answer. */
export function planFrames(run: ModelRun, count: number, finish: boolean, tag: string): FramePlan {
  const frames: FramePlan['frames'] = [];
  const id = (i: number) => `${tag}-${run.frameIds.length + i}`;
  if (TERMINAL.has(run.status)) {
    return { frames: [{ frame_id: id(0), type: 'run.text_delta', payload: { text: 'late' } }], expect: { status: 409, code: 'run_terminal' } };
  }
  let status = run.status;
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const type = status === 'created' ? 'run.started' : finish && last ? 'run.finished' : 'run.text_delta';
    frames.push({ frame_id: id(i), type, payload: { text: `delta ${i}`, tag } });
    if (type === 'run.started') status = 'running';
  }
  let events = frames.length;
  let runStatus: RunStatus = status;
  if (frames[frames.length - 1].type === 'run.finished') {
    // A finish while a cancel is pending ends the run canceled (one extra RunCanceled event).
    if (status === 'canceling') {
      runStatus = 'canceled';
      events += 1;
    } else {
      runStatus = 'succeeded';
    }
  }
  return { frames, expect: { status: 202, runStatus, events } };
}

export function applyFrames(run: ModelRun, plan: FramePlan): void {
  if (plan.expect.status !== 202) return;
  run.status = plan.expect.runStatus;
  run.events += plan.expect.events;
  run.frames += plan.frames.length;
  run.frameIds.push(...plan.frames.map((frame) => frame.frame_id));
}

export type CancelExpectation = { status: 202; runStatus: RunStatus; events: number } | { status: 409; code: 'run_terminal' };

/** What POST /runs/:id/cancel must answer for `run` (run.decider: cancel twice is a no-op; after success/failure refused). */
export function planCancel(run: ModelRun): CancelExpectation {
  switch (run.status) {
    case 'created':
      return { status: 202, runStatus: 'canceled', events: 2 };
    case 'running':
      return { status: 202, runStatus: 'canceling', events: 1 };
    case 'canceling':
    case 'canceled':
      return { status: 202, runStatus: run.status, events: 0 };
    default:
      return { status: 409, code: 'run_terminal' };
  }
}

export function applyCancel(run: ModelRun, expectation: CancelExpectation): void {
  if (expectation.status !== 202) return;
  run.status = expectation.runStatus;
  run.events += expectation.events;
}
