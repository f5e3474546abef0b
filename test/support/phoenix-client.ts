import WebSocket from 'ws';

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];

/** A raw `ws` client speaking Phoenix v2 frames, recording everything it receives. */
export class RawPhoenixClient {
  readonly frames: Frame[] = [];
  private ref = 0;
  private waiters: (() => void)[] = [];

  /** Resolves with the close code and reason once the socket is closed (by either side). */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const waiter of this.waiters.splice(0)) waiter();
      });
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

  /**
   * Waits until a received frame matches, returning it. The bound is generous on purpose: it only
   * decides how long a failing test takes, and a loaded machine can take seconds to answer.
   */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
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

  /** Sends a frame and waits for its reply. */
  async request(topic: string, event: string, payload: Record<string, unknown>, timeoutMs?: number): Promise<Frame> {
    return this.reply(this.send(topic, event, payload), timeoutMs);
  }

  /** Joins sync:v1 and returns the reply payload ({status, response}). */
  async join(payload: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return (await this.request('sync:v1', 'phx_join', payload))[4];
  }

  /** Every update received so far on one topic, in arrival order. */
  updates(topic?: string): Record<string, unknown>[] {
    return this.frames
      .filter((frame) => frame[3] === 'sync:update_batch')
      .flatMap((frame) => frame[4].updates as Record<string, unknown>[])
      .filter((update) => topic === undefined || update.topic === topic);
  }

  /** Waits until `count` updates of the topic have arrived. */
  async waitForUpdates(topic: string, count: number, timeoutMs = 30_000): Promise<Record<string, unknown>[]> {
    await this.waitFor(() => this.updates(topic).length >= count, timeoutMs);
    return this.updates(topic);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
