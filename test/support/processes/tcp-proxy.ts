import { createConnection, createServer, Server, Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** New connections go to this port from now on; open ones stay where they are. */
  route(targetPort: number): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Accepted connections waiting for a backend slot (see `maxUnanswered`). */
  readonly queued: number;
  close(): Promise<void>;
}

/**
 * Node's default listen backlog is 511. A backend whose accept queue overflows drops the SYN
 * instead of refusing it, and the connecting side retransmits after 1, 2, 4, 8, 16, 32 s: when a
 * thousand clients reconnect at once to a backend busy on a loaded machine, some of them wait
 * minutes in the kernel. So the proxy, like a load balancer's per-server queue, has at most this
 * many backend connections that have not answered yet (for HTTP and WebSocket: not sent the first
 * byte of their response), and queues the rest until one does.
 */
const DEFAULT_MAX_UNANSWERED = 256;

/**
 * A loopback TCP forwarder standing in for the load balancer in front of several gateway
 * processes: when the backend of a connection dies, the client side is closed too, and the
 * client's reconnect lands on whatever backend `route` names now.
 */
export async function startTcpProxy(targetPort: number, maxUnanswered = DEFAULT_MAX_UNANSWERED): Promise<TcpProxy> {
  let target = targetPort;
  let accepted = 0;
  let unanswered = 0;
  const queue: Socket[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  const admit = () => {
    while (unanswered < maxUnanswered && queue.length > 0) {
      const client = queue.shift()!;
      if (!client.destroyed) forward(client);
    }
  };
  const forward = (client: Socket) => {
    unanswered += 1;
    let settled = false;
    const answered = () => {
      if (settled) return;
      settled = true;
      unanswered -= 1;
      admit();
    };
    const backend = createConnection({ host: '127.0.0.1', port: target });
    track(backend);
    client.pipe(backend);
    backend.pipe(client);
    backend.once('data', answered);
    backend.once('close', answered);
    client.once('close', () => backend.destroy());
    backend.once('close', () => client.destroy());
  };

  // A large accept backlog: a thousand clients reconnect at once after a backend dies. Until it
  // is forwarded, a client's bytes wait in its socket (it is not read).
  const server: Server = createServer((client) => {
    accepted += 1;
    track(client);
    queue.push(client);
    admit();
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  return {
    port: (server.address() as { port: number }).port,
    route(port) {
      target = port;
    },
    get accepted() {
      return accepted;
    },
    get queued() {
      return queue.length;
    },
    close() {
      queue.length = 0;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
