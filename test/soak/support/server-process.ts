import { ChildProcess, fork } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerProbe } from './soak-server';

const ROOT = join(__dirname, '../../..');

export interface ServerUrls {
  control: string;
  runtime: string;
  gateway: string;
}

/**
 * The whole system as one real child process started from source (apps/embedded/src/main.ts via
 * soak-server.ts), so the process under measurement is the server and not jest.
 */
export class ServerProcess {
  /** Everything the child wrote to stderr (warnings land here). */
  stderr = '';
  private nextProbe = 0;
  private readonly pending = new Map<number, (probe: ServerProbe) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly urls: ServerUrls,
  ) {
    child.on('message', (message: { type?: string; id?: number; probe?: ServerProbe }) => {
      if (message?.type !== 'probe' || message.id === undefined) return;
      this.pending.get(message.id)?.(message.probe!);
      this.pending.delete(message.id);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(env: Record<string, string>): Promise<ServerProcess> {
    const child = fork(join(__dirname, 'soak-server.ts'), [], {
      cwd: ROOT,
      execArgv: ['--expose-gc', '-r', '@swc-node/register'],
      env: {
        ...process.env,
        SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        CONTROL_PORT: '0',
        RUNTIME_PORT: '0',
        KHALA_PORT: '0',
        DATA_DIR: 'memory',
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const urls = await new Promise<ServerUrls>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within 60 s: ${stdout} ${stderr}`)), 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        // Keep draining stdout (pino lines) for the whole run so the child never blocks on a full pipe.
        if (stdout.length < 1_000_000) stdout += chunk.toString();
        const found = ['control', 'runtime', 'gateway'].map((app) => new RegExp(`^\\s+${app}\\s+(http://\\S+)`, 'm').exec(stdout)?.[1]);
        if (found.every(Boolean)) {
          clearTimeout(timer);
          resolve({ control: found[0]!, runtime: found[1]!, gateway: found[2]! });
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before it was ready: ${stderr}`));
      });
    });
    const server = new ServerProcess(child, urls);
    server.stderr = stderr;
    child.stderr!.on('data', (chunk: Buffer) => (server.stderr += chunk.toString()));
    return server;
  }

  /** Heap after forced GCs, RSS, and open descriptors, from inside the server process. */
  probe(timeoutMs = 30_000): Promise<ServerProbe> {
    const id = ++this.nextProbe;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('server did not answer the probe'));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, (probe) => {
        clearTimeout(timer);
        resolve(probe);
      });
      this.child.send({ type: 'probe', id });
    });
  }

  /** Writes a V8 heap snapshot of the server (after a GC) to `path`. */
  heapSnapshot(path: string): Promise<void> {
    const id = ++this.nextProbe;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 300_000).unref();
      this.pending.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'heap-snapshot', id, path });
    });
  }

  /** Open descriptors counted from outside (/proc/<pid>/fd), independent of the probe. */
  openFds(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  stop(): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve(this.child.exitCode);
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      this.child.once('exit', (code) => {
        clearTimeout(kill);
        resolve(code);
      });
      this.child.kill('SIGTERM');
    });
  }
}
