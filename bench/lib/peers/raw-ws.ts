/**
 * The transport ceiling: a bare `ws` server in its own process that broadcasts the same document
 * bytes (one WebSocket text message per update) to every connected client, and clients that count
 * them. No protocol, no auth, no storage.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { benchDocument } from '../gateway/documents';
import { SequenceCheck } from '../gateway/integrity';
import { ownStats, ProcessStats, serveRpc, ServerProcess } from '../gateway/processes';

const NUMBER = /"n":(\d+)/g;

export class RawWsServer {
  private constructor(
    readonly process: ServerProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<RawWsServer> {
    const server = ServerProcess.start(__filename, { nodeFlags: ['--expose-gc'] });
    const url = await server.call<string>('start');
    return new RawWsServer(server, url);
  }

  /**
   * Sends documents first..first+count-1 to every client, `perMessage` documents per WebSocket
   * message (a JSON array when > 1); resolves when all were handed to the sockets.
   */
  broadcast(first: number, count: number, perMessage = 1): Promise<void> {
    return this.process.call('broadcast', { first, count, perMessage });
  }

  stats(collectGarbage = false): Promise<ProcessStats> {
    return this.process.call('stats', { gc: collectGarbage });
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

export class RawWsClient {
  readonly check = new SequenceCheck(0);
  received = 0;
  private socket?: WebSocket;

  constructor(
    private readonly url: string,
    private readonly onMessage?: (client: RawWsClient, n: number, at: number) => void,
  ) {}

  async connect(): Promise<void> {
    const socket = new WebSocket(this.url, { skipUTF8Validation: true, perMessageDeflate: false });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('message', (data: Buffer) => {
      const at = performance.now();
      const text = data.toString();
      NUMBER.lastIndex = 0;
      for (let match = NUMBER.exec(text); match; match = NUMBER.exec(text)) {
        const n = Number(match[1]);
        if (!this.check.see(n)) continue;
        this.received++;
        this.onMessage?.(this, n, at);
      }
    });
  }

  terminate(): void {
    this.socket?.terminate();
  }
}

function child(): void {
  let server: WebSocketServer | undefined;
  serveRpc({
    async start(): Promise<string> {
      server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 4096 } as ConstructorParameters<typeof WebSocketServer>[0]);
      await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
      return `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    },
    async broadcast(args: { first: number; count: number; perMessage: number }): Promise<void> {
      const end = args.first + args.count;
      for (let n = args.first; n < end; n += args.perMessage) {
        const documents: string[] = [];
        for (let m = n; m < Math.min(end, n + args.perMessage); m++) documents.push(benchDocument(m));
        const bytes = Buffer.from(args.perMessage === 1 ? documents[0] : `[${documents.join(',')}]`);
        for (const client of server!.clients) client.send(bytes, { binary: false });
        // Let the sockets flush between messages, as a server interleaving I/O would.
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    stats(args: { gc: boolean }): ProcessStats {
      return ownStats(args.gc);
    },
    async stop(): Promise<void> {
      for (const client of server?.clients ?? []) client.terminate();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  });
}

if (require.main === module) child();
