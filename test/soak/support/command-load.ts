import { randomUUID } from 'node:crypto';
import { HttpClient, HttpResult } from './http-client';
import type { ServerUrls } from './server-process';

export interface SoakOrg {
  orgId: string;
  accessToken: string;
  syncToken: string;
}

/** What the server acknowledged (2xx) per entity: the highest revision it reported. */
export interface AckedEntity {
  orgId: string;
  ackedRevision: number;
}

interface RunState extends AckedEntity {
  runId: string;
  status: 'created' | 'running' | 'canceling' | 'terminal';
  framesLeft: number;
  nextFrame: number;
  busy: boolean;
}

interface WorkerState extends AckedEntity {
  workerId: string;
  busy: boolean;
}

type Op = 'create_run' | 'append_frames' | 'cancel_run' | 'start_worker' | 'heartbeat' | 'worker_event' | 'read_run' | 'snapshot' | 'bad_request';

/** The steady mix: mostly frames and heartbeats, as agents and workers produce them. */
const MIX: [Op, number][] = [
  ['create_run', 8],
  ['append_frames', 42],
  ['cancel_run', 4],
  ['start_worker', 2],
  ['heartbeat', 20],
  ['worker_event', 6],
  ['read_run', 4],
  ['snapshot', 6],
  ['bad_request', 8],
];
const MIX_TOTAL = MIX.reduce((sum, [, weight]) => sum + weight, 0);

const ACTIVE_RUNS_PER_ORG = 6;
const WORKERS_PER_ORG = 3;

const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
const text = (min: number, max: number) => 'x'.repeat(min + Math.floor(Math.random() * (max - min)));

/**
 * HTTP commands at a steady rate against the runtime (and snapshot reads against the gateway),
 * with one command in flight per entity so every outcome is predictable: any status other than the
 * expected one is recorded as unexpected.
 */
export class CommandLoad {
  readonly runs = new Map<string, RunState>();
  readonly workers = new Map<string, WorkerState>();
  /** Latencies (ms) of acknowledged commands, per operation. */
  readonly latencies = new Map<Op, number[]>();
  readonly counts = { sent: 0, acknowledged: 0, expectedErrors: 0, shed: 0 };
  readonly unexpected: string[] = [];
  unexpectedCount = 0;
  private inFlight = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly urls: ServerUrls,
    private readonly orgs: SoakOrg[],
    private readonly maxInFlight = 16,
  ) {}

  /** Issues `ratePerSecond` operations per second until `until` (ms since epoch), then waits for the stragglers. */
  async run(ratePerSecond: number, until: number): Promise<void> {
    const interval = 1000 / ratePerSecond;
    const started = Date.now();
    for (let i = 0; ; i++) {
      const due = started + i * interval;
      if (due >= until) break;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.inFlight >= this.maxInFlight) {
        this.counts.shed++;
        continue;
      }
      this.inFlight++;
      void this.one().finally(() => this.inFlight--);
    }
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  activeRuns(orgId: string): RunState[] {
    return [...this.runs.values()].filter((run) => run.orgId === orgId && run.status !== 'terminal');
  }

  private async one(): Promise<void> {
    let roll = Math.random() * MIX_TOTAL;
    const op = MIX.find(([, weight]) => (roll -= weight) < 0)![0];
    const org = pick(this.orgs)!;
    try {
      await this.dispatch(op, org);
    } catch (error) {
      const { code, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
      this.fail(op, `threw ${(error as Error).message}${code ? ` (${code}${reusedSocket ? ', on a reused keep-alive socket' : ''})` : ''}`);
    }
  }

  private async dispatch(op: Op, org: SoakOrg): Promise<void> {
    switch (op) {
      case 'create_run':
      case 'append_frames':
      case 'cancel_run': {
        const active = this.activeRuns(org.orgId);
        if (op === 'create_run' || active.length < ACTIVE_RUNS_PER_ORG) {
          if (active.length < ACTIVE_RUNS_PER_ORG * 2) return this.createRun(org);
        }
        const run = pick(active.filter((r) => !r.busy && (op !== 'cancel_run' || r.status === 'running')));
        if (!run) return;
        return op === 'cancel_run' ? this.cancel(org, run) : this.appendFrames(org, run);
      }
      case 'start_worker':
      case 'heartbeat':
      case 'worker_event': {
        const workers = [...this.workers.values()].filter((w) => w.orgId === org.orgId);
        if (op === 'start_worker' || workers.length < WORKERS_PER_ORG) {
          if (workers.length < WORKERS_PER_ORG * 2) return this.startWorker(org);
        }
        const worker = pick(workers.filter((w) => !w.busy));
        if (!worker) return;
        return this.workerCommand(op, org, worker);
      }
      case 'read_run': {
        const run = pick(this.activeRuns(org.orgId));
        if (!run) return;
        // The summary may still be on its way through the projector: 200 or 404 are both fine.
        const result = await this.call('GET', `${this.urls.runtime}/api/runtime/runs/${run.runId}`, org.accessToken);
        this.expect(op, result, [200, 404]);
        return;
      }
      case 'snapshot': {
        const topic = Math.random() < 0.5 ? 'runtime.run_summaries' : 'runtime.codex_worker_summaries';
        const result = await this.call('GET', `${this.urls.gateway}/api/sync/snapshot?topic=${topic}&page_size=50`, org.syncToken);
        this.expect(op, result, [200]);
        return;
      }
      case 'bad_request':
        return this.badRequest(org);
    }
  }

  private async createRun(org: SoakOrg): Promise<void> {
    const result = await this.call('POST', `${this.urls.runtime}/api/runtime/runs`, org.accessToken, {
      thread_id: `thread-${randomUUID().slice(0, 8)}`,
      metadata: { soak: true },
    });
    if (!this.expect('create_run', result, [201])) return;
    const { run_id: runId, revision } = result.body as { run_id: string; revision: number };
    this.runs.set(runId, {
      runId,
      orgId: org.orgId,
      ackedRevision: revision,
      status: 'created',
      framesLeft: 2 + Math.floor(Math.random() * 10),
      nextFrame: 0,
      busy: false,
    });
  }

  private async appendFrames(org: SoakOrg, run: RunState): Promise<void> {
    run.busy = true;
    try {
      let frames: { type: string; payload: Record<string, unknown> }[];
      if (run.status === 'created') frames = [{ type: 'run.started', payload: {} }];
      else if (run.framesLeft <= 0 || run.status === 'canceling') frames = [{ type: 'run.finished', payload: { ok: true } }];
      else frames = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => ({ type: 'run.text_delta', payload: { text: text(50, 600) } }));
      const body = { frames: frames.map((frame) => ({ frame_id: `f-${run.nextFrame++}`, ...frame })) };
      const result = await this.call('POST', `${this.urls.runtime}/api/runtime/runs/${run.runId}/frames`, org.accessToken, body);
      if (!this.expect('append_frames', result, [202])) return;
      run.ackedRevision = Math.max(run.ackedRevision, (result.body as { revision: number }).revision);
      run.framesLeft -= frames.length;
      const type = frames[0].type;
      run.status = type === 'run.started' ? 'running' : type === 'run.finished' ? 'terminal' : run.status;
    } finally {
      run.busy = false;
    }
  }

  private async cancel(org: SoakOrg, run: RunState): Promise<void> {
    run.busy = true;
    try {
      const result = await this.call('POST', `${this.urls.runtime}/api/runtime/runs/${run.runId}/cancel`, org.accessToken, { reason: 'soak' });
      if (!this.expect('cancel_run', result, [202])) return;
      const reply = result.body as { revision: number; status: string };
      run.ackedRevision = Math.max(run.ackedRevision, reply.revision);
      run.status = reply.status === 'canceled' ? 'terminal' : 'canceling';
    } finally {
      run.busy = false;
    }
  }

  private async startWorker(org: SoakOrg): Promise<void> {
    const workerId = `w-${randomUUID()}`;
    const result = await this.call('POST', `${this.urls.runtime}/api/runtime/codex/workers`, org.accessToken, {
      worker_id: workerId,
      workspace_ref: 'soak/workspace',
      adapter: 'soak',
    });
    if (!this.expect('start_worker', result, [201])) return;
    this.workers.set(workerId, { workerId, orgId: org.orgId, ackedRevision: 0, busy: false });
  }

  private async workerCommand(op: 'heartbeat' | 'worker_event' | 'start_worker', org: SoakOrg, worker: WorkerState): Promise<void> {
    worker.busy = true;
    try {
      const base = `${this.urls.runtime}/api/runtime/codex/workers/${worker.workerId}`;
      const result =
        op === 'heartbeat'
          ? await this.call('POST', `${base}/heartbeat`, org.accessToken, {})
          : await this.call('POST', `${base}/events`, org.accessToken, { event: { event_type: 'worker.output', payload: { line: text(20, 200) } } });
      if (!this.expect(op, result, [202])) return;
      worker.ackedRevision = Math.max(worker.ackedRevision, (result.body as { revision: number }).revision);
    } finally {
      worker.busy = false;
    }
  }

  /** Requests the server must refuse with a coded error and no state change. */
  private async badRequest(org: SoakOrg): Promise<void> {
    const runs = `${this.urls.runtime}/api/runtime/runs`;
    const terminal = [...this.runs.values()].find((run) => run.orgId === org.orgId && run.status === 'terminal' && !run.busy);
    const cases: (() => Promise<[HttpResult, number]>)[] = [
      async () => [await this.call('POST', runs, org.accessToken, { metadata: 'not an object' }), 400],
      async () => [await this.call('POST', `${runs}/run_missing_${randomUUID().slice(0, 8)}/frames`, org.accessToken, { frames: [] }), 400],
      async () => [
        await this.call('POST', `${runs}/run_${randomUUID().replace(/-/g, '')}/frames`, org.accessToken, {
          frames: [{ frame_id: 'f', type: 'run.started', payload: {} }],
        }),
        404,
      ],
      async () => [await this.call('POST', runs, undefined, {}), 401],
      async () => [await this.call('POST', runs, 'not.a.token', {}), 401],
      async () => [await this.http.send('POST', runs, { token: org.accessToken, rawBody: '{"thread_id": ' }), 400],
      async () => [await this.call('GET', `${this.urls.gateway}/api/sync/snapshot?topic=runtime.run_events`, org.syncToken), 400],
    ];
    if (terminal) {
      cases.push(async () => [
        await this.call('POST', `${runs}/${terminal.runId}/frames`, org.accessToken, {
          frames: [{ frame_id: `late-${randomUUID()}`, type: 'run.text_delta', payload: {} }],
        }),
        409, // run_terminal: the run's state conflicts with the request
      ]);
    }
    const [result, status] = await pick(cases)!();
    this.counts.sent++;
    if (result.status === status) this.counts.expectedErrors++;
    else this.fail('bad_request', `expected ${status}, got ${result.status} ${JSON.stringify(result.body).slice(0, 200)}`);
  }

  private call(method: string, url: string, token: string | undefined, body?: unknown): Promise<HttpResult> {
    return this.http.send(method, url, { token, body });
  }

  private expect(op: Op, result: HttpResult, statuses: number[]): boolean {
    this.counts.sent++;
    if (!statuses.includes(result.status)) {
      this.fail(op, `got ${result.status} ${JSON.stringify(result.body).slice(0, 300)}`);
      return false;
    }
    if (result.status >= 300) return false;
    this.counts.acknowledged++;
    const list = this.latencies.get(op) ?? [];
    list.push(result.latencyMs);
    this.latencies.set(op, list);
    return true;
  }

  private fail(op: Op, detail: string): void {
    this.unexpectedCount++;
    if (this.unexpected.length < 20) this.unexpected.push(`${op}: ${detail}`);
  }
}
