/**
 * A minimal HTTP/1.1 client for closed-loop load: one keep-alive socket per lane, one request at a
 * time on it, the response framed by Content-Length (or chunked). `fetch` costs the load generator
 * ~0.6 ms of CPU per request, which on its one core caps a run near 1,600 requests/s: the client,
 * not the server, would be what is measured. This costs a few tens of microseconds.
 *
 * Not a general client: no redirects, no compression, no pipelining, no TLS; bodies are UTF-8 JSON.
 */
import { connect, Socket } from 'node:net';

export interface KeepAliveResponse {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class KeepAliveConnection {
  private socket?: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending?: { resolve: (response: KeepAliveResponse) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, private readonly timeoutMs: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
  }

  request(method: string, path: string, headers: Record<string, string>, body: string): Promise<KeepAliveResponse> {
    if (this.pending) return Promise.reject(new Error('one request at a time per connection'));
    const socket = this.socket ?? this.open();
    const payload = Buffer.from(body, 'utf8');
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-length: ${payload.length}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    return new Promise<KeepAliveResponse>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(Object.assign(new Error('request timed out'), { name: 'TimeoutError' })), this.timeoutMs);
      this.pending = { resolve, reject, timer };
      socket.write(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]));
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('socket closed')));
    this.socket = socket;
    this.buffered = Buffer.alloc(0);
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffered.subarray(0, headerEnd).toString('latin1');
    const lines = head.split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = new Map(lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    }));
    const rest = this.buffered.subarray(headerEnd + HEADER_END.length);
    const body = headers.get('transfer-encoding')?.includes('chunked') ? dechunk(rest) : contentOf(rest, Number(headers.get('content-length') ?? 0));
    if (body === undefined) return; // not all of it yet
    this.buffered = Buffer.alloc(0);
    if (headers.get('connection')?.toLowerCase() === 'close') this.close();
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.resolve({ status, body: body.toString('utf8') });
    }
  }

  private fail(error: Error): void {
    this.close();
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

function contentOf(rest: Buffer, length: number): Buffer | undefined {
  return rest.length >= length ? rest.subarray(0, length) : undefined;
}

/** A complete chunked body, or undefined while its last chunk has not arrived. */
function dechunk(rest: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = parseInt(rest.subarray(offset, lineEnd).toString('latin1'), 16);
    const start = lineEnd + 2;
    if (size === 0) return rest.length >= start + 2 ? Buffer.concat(parts) : undefined;
    if (rest.length < start + size + 2) return undefined;
    parts.push(rest.subarray(start, start + size));
    offset = start + size + 2;
  }
}
