/**
 * The NATS JetStream peer: Debian's `nats-server` started on loopback with a generated config
 * (JetStream with a temporary file store, a WebSocket listener without TLS), one stream per topic,
 * subscribers as JetStream ordered push consumers over WebSocket (nats.ws over the `ws` package),
 * the publisher a TCP client awaiting each publish ack. Stopped and its store removed at the end.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SequenceCheck } from '../gateway/integrity';
import { sleep } from '../gateway/load';
import { freePort } from '../../../test/support/processes/free-port';

// nats.ws expects a browser WebSocket global.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const natsWs = require('nats.ws') as typeof import('nats.ws');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const natsTcp = require('nats') as typeof import('nats');

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** BENCH_NATS_SERVER names the binary ('none' skips the peer, as on a machine without it). */
export function natsServerPath(): string | undefined {
  const configured = process.env.BENCH_NATS_SERVER;
  if (configured) return configured === 'none' ? undefined : configured;
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  try {
    return execFileSync('which', ['nats-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const NATS_MISSING_NOTE = 'nats-server not found (apt-get install -y nats-server): the NATS peer was skipped';


async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
    await sleep(50);
  }
}

export interface NatsSubscriberOptions {
  stream: string;
  subject: string;
  /** Resume after this stream sequence (ordered consumer from startAfter + 1). */
  startAfter?: number;
  onMessage?(subscriber: NatsSubscriber, sequence: number, at: number, data: Uint8Array): void;
}

/** One WebSocket connection with one JetStream ordered consumer. */
export class NatsSubscriber {
  readonly check: SequenceCheck;
  received = 0;
  private connection?: Awaited<ReturnType<typeof natsWs.connect>>;

  constructor(
    private readonly wsUrl: string,
    private readonly options: NatsSubscriberOptions,
  ) {
    this.check = new SequenceCheck(options.startAfter ?? 0);
  }

  async connect(): Promise<void> {
    this.connection = await natsWs.connect({ servers: this.wsUrl, reconnect: false, noEcho: true });
    const opts = natsWs.consumerOpts();
    opts.orderedConsumer();
    opts.bindStream(this.options.stream);
    if (this.options.startAfter) opts.startSequence(this.options.startAfter + 1);
    else opts.deliverAll();
    opts.callback((error, message) => {
      if (error || !message) return;
      const at = performance.now();
      if (!this.check.see(message.seq)) return;
      this.received++;
      this.options.onMessage?.(this, message.seq, at, message.data);
    });
    await this.connection.jetstream().subscribe(this.options.subject, opts);
  }

  /** Drops the connection (no drain), as a network loss would. */
  async terminate(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
  }
}

export class NatsPeer {
  private publisher?: Awaited<ReturnType<typeof natsTcp.connect>>;

  private constructor(
    private readonly server: ChildProcess,
    private readonly dir: string,
    readonly tcpPort: number,
    readonly wsUrl: string,
  ) {}

  /** Starts nats-server; undefined when it is not installed. */
  static async start(): Promise<NatsPeer | undefined> {
    const binary = natsServerPath();
    if (!binary) return undefined;
    const dir = mkdtempSync(join(tmpdir(), 'khala-bench-nats-'));
    const [tcpPort, wsPort] = [await freePort(), await freePort()];
    const config = [
      `host: 127.0.0.1`,
      `port: ${tcpPort}`,
      `max_payload: 1048576`,
      `jetstream { store_dir: "${join(dir, 'store')}", max_memory_store: 268435456, max_file_store: 4294967296 }`,
      `websocket { host: 127.0.0.1, port: ${wsPort}, no_tls: true }`,
    ].join('\n');
    writeFileSync(join(dir, 'nats.conf'), config);
    const server = spawn(binary, ['-c', join(dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    try {
      execFileSync('taskset', ['-pc', '0', String(server.pid)], { stdio: 'ignore' });
    } catch {
      // no taskset: unpinned
    }
    try {
      await waitForPort(tcpPort, 10_000);
      await waitForPort(wsPort, 10_000);
    } catch (error) {
      server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${(error as Error).message}: ${stderr}`);
    }
    const peer = new NatsPeer(server, dir, tcpPort, `ws://127.0.0.1:${wsPort}`);
    peer.publisher = await natsTcp.connect({ servers: `127.0.0.1:${tcpPort}` });
    return peer;
  }

  /** A fresh file-backed stream holding one subject. */
  async createStream(name: string, subject: string): Promise<void> {
    const manager = await this.publisher!.jetstreamManager();
    await manager.streams.add({ name, subjects: [subject], storage: natsTcp.StorageType.File });
  }

  async deleteStream(name: string): Promise<void> {
    const manager = await this.publisher!.jetstreamManager();
    await manager.streams.delete(name).catch(() => undefined);
  }

  /** Publishes and resolves with the stream sequence once JetStream acknowledged it (stored). */
  async publish(subject: string, data: Uint8Array): Promise<number> {
    const ack = await this.publisher!.jetstream().publish(subject, data);
    return ack.seq;
  }

  subscriber(options: NatsSubscriberOptions): NatsSubscriber {
    return new NatsSubscriber(this.wsUrl, options);
  }

  /** RSS (bytes) and CPU seconds (user + system) of the nats-server process, from /proc. */
  stats(): { rss: number; cpuSeconds: number } {
    try {
      const stat = readFileSync(`/proc/${this.server.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const rssPages = Number(fields[21]);
      return { rss: rssPages * 4096, cpuSeconds: ticks / 100 };
    } catch {
      return { rss: NaN, cpuSeconds: NaN };
    }
  }

  async stop(): Promise<void> {
    await this.publisher?.close().catch(() => undefined);
    const exited = new Promise<void>((resolve) => (this.server.exitCode !== null ? resolve() : this.server.once('exit', () => resolve())));
    this.server.kill('SIGTERM');
    const timer = setTimeout(() => this.server.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
