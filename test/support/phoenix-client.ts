import WebSocket from 'ws';

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/** A raw `ws` client speaking Phoenix v2 frames, recording everything it receives. */
export class RawPhoenixClient {
  readonly frames: Frame[] = [];
  private ref = 0;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  }

  static connect(url: string): Promise<RawPhoenixClient> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new RawPhoenixClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      socket.once('error', reject);
    });
  }

  send(topic: string, event: string, payload: Record<string, unknown>, joinRef: string | null = '1'): string {
    const ref = String(++this.ref);
    this.socket.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  /** Waits until a received frame matches, returning it. */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  reply(ref: string, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((frame) => frame[1] === ref && frame[3] === 'phx_reply', timeoutMs);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
