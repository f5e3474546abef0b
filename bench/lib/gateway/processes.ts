/**
 * The server under test runs in a child process of the load generator: forked with the same
 * TypeScript loader, driven by request/response messages over IPC, pinned to its own core where
 * `taskset` exists (the load generator takes the other one).
 */
import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';

export interface RpcRequest {
  id: number;
  op: string;
  args?: unknown;
}

export type RpcResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Parent side of a forked server: call(op, args) resolves with the child's answer. */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private exited?: Error;
  readonly pinning: string;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: RpcResponse) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(message.error));
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`server process exited (code ${code}, signal ${signal})`);
      for (const waiter of this.pending.values()) waiter.reject(this.exited);
      this.pending.clear();
    });
    this.pinning = pinApart(child.pid!);
  }

  /** Forks `modulePath` (a module that calls serveRpc) with extra Node flags. */
  static start(modulePath: string, options: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {}): ServerProcess {
    const child = fork(modulePath, [], {
      execArgv: [...process.execArgv, ...(options.nodeFlags ?? [])],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ServerProcess(child);
  }

  call<T>(op: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, op, args } satisfies RpcRequest);
    });
  }

  /** Asks the child to stop cleanly; kills it if it does not exit in time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('stop').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Child side: answers each request with `handlers[op](args)`; 'stop' runs handlers.stop then exits. */
export function serveRpc(handlers: Record<string, (args: never) => unknown>): void {
  process.on('message', (request: RpcRequest) => {
    const handler = handlers[request.op];
    void Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown op ${request.op}`);
        return handler(request.args as never);
      })
      .then(
        (result) => process.send!({ id: request.id, ok: true, result: result ?? null } satisfies RpcResponse),
        (error: unknown) =>
          process.send!({ id: request.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies RpcResponse),
      )
      .then(() => {
        if (request.op === 'stop') setTimeout(() => process.exit(0), 50);
      });
  });
  process.on('disconnect', () => process.exit(0));
}

/** Server on cpu 0, this process (the load generator) on cpu 1. Other processes (Postgres, nats-server) stay unpinned unless pinned by pid. */
export function pinApart(serverPid: number): string {
  if (cpus().length < 2) return 'not pinned (1 cpu)';
  try {
    execFileSync('taskset', ['-pc', '0', String(serverPid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
    return 'server on cpu 0, load generator on cpu 1';
  } catch {
    return 'not pinned (no taskset)';
  }
}

/** Process CPU seconds and RSS of a child, read by the child itself. */
export interface ProcessStats {
  rss: number;
  heapUsed: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

export function ownStats(collectGarbage = false): ProcessStats {
  if (collectGarbage) (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: memory.rss, heapUsed: memory.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system };
}

export function cpuSecondsBetween(before: ProcessStats, after: ProcessStats): number {
  return (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1e6;
}
