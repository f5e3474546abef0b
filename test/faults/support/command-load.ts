import { randomUUID } from 'node:crypto';

/** One command the load sent, and what became of it. */
export interface SentCommand {
  kind: 'create' | 'frame';
  orgId: string;
  key: string;
  /** Known once the create was acknowledged (derived from the key server-side). */
  runId?: string;
  frameId?: string;
  attempts: number;
  /** 'acknowledged' = got a 2xx; 'rejected' = a non-retryable answer; 'abandoned' = still failing at the give-up deadline. */
  outcome: 'pending' | 'acknowledged' | 'rejected' | 'abandoned';
  lastStatus?: number | string;
}

export interface CommandLoadOptions {
  runtimeUrl: string;
  /** orgId → access token of a user of that org. */
  tokens: Map<string, string>;
  ratePerSecond: number;
  /** Commands in flight at most (lanes; each lane drives one run at a time). */
  lanes: number;
  /** Frames per run before the lane creates its next run. */
  framesPerRun?: number;
  /** A command still failing this long after it was first sent is abandoned (never acknowledged). */
  giveUpAfterMs?: number;
}

// What a well-behaved client retries with the same Idempotency-Key: the service said "try again"
// (503, 409 idempotency_in_progress) or the request never got an answer (connection error).
const RETRY_DELAY_MS = 100;

/**
 * A steady command load over HTTP: `lanes` concurrent clients, each creating a run and streaming
 * frames into it, together at most `ratePerSecond`. Every command carries an Idempotency-Key and
 * is retried with the same key until acknowledged, so "acknowledged" means the service promised
 * the effect, and the test can hold it to that.
 */
export class CommandLoad {
  readonly commands: SentCommand[] = [];
  retries = 0;
  /** Every non-2xx answer or failure, by status and code (e.g. "503 storage_unavailable"), with counts. */
  readonly failures = new Map<string, number>();
  private running = false;
  private lanes: Promise<void>[] = [];
  private nextSlot = 0;
  private readonly listeners = new Set<(command: SentCommand) => void>();

  constructor(private readonly options: CommandLoadOptions) {}

  start(): void {
    this.running = true;
    this.nextSlot = Date.now();
    const orgs = [...this.options.tokens.keys()];
    this.lanes = Array.from({ length: this.options.lanes }, (_, lane) => this.lane(orgs[lane % orgs.length]));
  }

  /** Stops issuing new commands and waits until every command in flight is settled. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.lanes);
  }

  /** Calls `listener` for each acknowledged command. */
  onAcknowledged(listener: (command: SentCommand) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get acknowledged(): SentCommand[] {
    return this.commands.filter((command) => command.outcome === 'acknowledged');
  }

  /** Sends one create-run command outside the lanes (a probe) and resolves when it is acknowledged. */
  async probe(orgId: string): Promise<SentCommand> {
    const command = await this.createRun(orgId);
    if (command.outcome !== 'acknowledged') throw new Error(`probe command was ${command.outcome} (${command.lastStatus})`);
    return command;
  }

  private async lane(orgId: string): Promise<void> {
    const framesPerRun = this.options.framesPerRun ?? 10;
    while (this.running) {
      await this.pace();
      if (!this.running) return;
      const created = await this.createRun(orgId);
      if (created.outcome !== 'acknowledged') continue;
      for (let i = 0; i <= framesPerRun && this.running; i++) {
        await this.pace();
        if (!this.running) return;
        const frame = await this.appendFrame(orgId, created.runId!, i === 0 ? 'run.started' : 'run.text_delta', `f${i}`);
        if (frame.outcome !== 'acknowledged') break;
      }
    }
  }

  /** Waits for this lane's turn so all lanes together stay at the rate. */
  private async pace(): Promise<void> {
    const slot = Math.max(this.nextSlot, Date.now());
    this.nextSlot = slot + 1000 / this.options.ratePerSecond;
    const wait = slot - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private async createRun(orgId: string): Promise<SentCommand> {
    const command: SentCommand = { kind: 'create', orgId, key: `create-${randomUUID()}`, attempts: 0, outcome: 'pending' };
    const body = await this.send(command, '/api/runtime/runs', { metadata: { load: true } });
    if (body) command.runId = (body as { run_id: string }).run_id;
    return command;
  }

  private appendFrame(orgId: string, runId: string, type: string, frameId: string): Promise<SentCommand> {
    const command: SentCommand = { kind: 'frame', orgId, key: `frame-${randomUUID()}`, runId, frameId, attempts: 0, outcome: 'pending' };
    return this.send(command, `/api/runtime/runs/${runId}/frames`, {
      frames: [{ frame_id: frameId, type, payload: { text: `${frameId} of ${runId}` } }],
    }).then(() => command);
  }

  private async send(command: SentCommand, path: string, body: unknown): Promise<unknown> {
    this.commands.push(command);
    const giveUpAt = Date.now() + (this.options.giveUpAfterMs ?? 90_000);
    for (;;) {
      command.attempts += 1;
      if (command.attempts > 1) this.retries += 1;
      try {
        const response = await fetch(`${this.options.runtimeUrl}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.options.tokens.get(command.orgId)}`,
            'content-type': 'application/json',
            'idempotency-key': command.key,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        command.lastStatus = response.status;
        const text = await response.text();
        if (response.ok) {
          command.outcome = 'acknowledged';
          for (const listener of this.listeners) listener(command);
          return JSON.parse(text) as unknown;
        }
        const code = (JSON.parse(text || '{}') as { code?: string }).code;
        command.lastStatus = `${response.status} ${code ?? ''}`.trim();
        this.failures.set(command.lastStatus, (this.failures.get(command.lastStatus) ?? 0) + 1);
        const retryable = response.status === 503 || (response.status === 409 && code === 'idempotency_in_progress');
        if (!retryable) {
          command.outcome = 'rejected';
          return undefined;
        }
      } catch (error) {
        command.lastStatus = (error as Error).name === 'TimeoutError' ? 'timeout' : 'connection error';
        this.failures.set(command.lastStatus, (this.failures.get(command.lastStatus) ?? 0) + 1);
      }
      if (Date.now() >= giveUpAt) {
        command.outcome = 'abandoned';
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}
