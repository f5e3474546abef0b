import { Agent, request } from 'node:http';

export interface HttpResult {
  status: number;
  body: unknown;
  latencyMs: number;
}

/**
 * Keep-alive HTTP over one agent the soak owns, so closing it at the end closes every client
 * socket (the descriptor check then sees only what the server itself still holds).
 */
export class HttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });

  async send(method: string, url: string, options: { token?: string; body?: unknown; rawBody?: string } = {}): Promise<HttpResult> {
    try {
      return await this.once(method, url, options);
    } catch (error) {
      // A pooled keep-alive socket the server closed as idle just as we reused it: the request never
      // reached the server (Node's documented reusedSocket race), so sending it again is safe. On a
      // connection of its own: the server closes idle sockets together, so the next pooled one may
      // be closing too (a retry on the pool still failed once with "socket hang up").
      if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        return this.once(method, url, options, false);
      }
      throw error;
    }
  }

  private once(method: string, url: string, options: { token?: string; body?: unknown; rawBody?: string }, pooled = true): Promise<HttpResult> {
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: pooled ? this.agent : false, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (metrics text): keep the string
          }
          resolve({ status: res.statusCode ?? 0, body, latencyMs: performance.now() - started });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
