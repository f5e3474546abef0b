import WebSocket from 'ws';

type Frame = [string | null, string | null, string, string, Record<string, unknown>];
interface Update {
  topic: string;
  doc_key: string;
  doc_version: number;
  watermark: number;
}

/** One Phoenix v2 socket on sync:v1, minimal: join, subscribe, per-ref replies, pushes to a callback. */
class SyncSocket {
  private ref = 0;
  private readonly replies = new Map<string, (frame: Frame) => void>();
  readonly closed: Promise<number>;

  private constructor(
    readonly ws: WebSocket,
    onPush: (frame: Frame) => void,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame[3] === 'phx_reply' && frame[1] !== null && this.replies.has(frame[1])) {
        this.replies.get(frame[1])!(frame);
        this.replies.delete(frame[1]);
      } else onPush(frame);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }

  static open(url: string, onPush: (frame: Frame) => void): Promise<SyncSocket> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new SyncSocket(ws, onPush)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  /**
   * Sends and resolves with the reply payload. `atReply` runs synchronously when the reply frame is
   * read, before any later frame: the promise resolves only after the rest of the chunk was handled.
   */
  request(event: string, payload: Record<string, unknown>, timeoutMs = 30_000, atReply?: () => void): Promise<Record<string, unknown>> {
    const ref = String(++this.ref);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${event} within ${timeoutMs} ms`)), timeoutMs);
      this.replies.set(ref, (frame) => {
        atReply?.();
        clearTimeout(timer);
        resolve(frame[4]);
      });
      this.closed.then((code) => {
        clearTimeout(timer);
        reject(new Error(`socket closed (${code}) before the ${event} reply`));
      }, () => undefined);
      this.ws.send(JSON.stringify(['1', ref, event === 'heartbeat' ? 'phoenix' : 'sync:v1', event, payload]));
    });
  }

  close(abrupt = false): Promise<number> {
    if (this.ws.readyState !== WebSocket.CLOSED) {
      if (abrupt) this.ws.terminate();
      else this.ws.close();
    }
    return this.closed;
  }
}

/** Per topic, what a subscriber applied: dense watermarks, so any gap or repeat is a fault. */
class TopicTracker {
  readonly last = new Map<string, number>();
  /** doc_key → highest doc_version seen. */
  readonly docs = new Map<string, number>();
  gaps = 0;
  duplicates = 0;
  readonly problems: string[] = [];

  apply(update: Update): void {
    const last = this.last.get(update.topic) ?? 0;
    if (update.watermark === last + 1) {
      this.last.set(update.topic, update.watermark);
      this.docs.set(update.doc_key, Math.max(this.docs.get(update.doc_key) ?? 0, update.doc_version));
      return;
    }
    if (update.watermark <= last) this.duplicates++;
    else {
      this.gaps++;
      this.last.set(update.topic, update.watermark);
    }
    if (this.problems.length < 10) this.problems.push(`${update.topic}: got ${update.watermark} after ${last}`);
  }
}

const updatesOf = (frame: Frame): Update[] => (frame[3] === 'sync:update_batch' ? (frame[4].updates as Update[]) : []);

export const LIVE_TOPICS = ['runtime.run_events', 'runtime.run_summaries', 'runtime.codex_worker_summaries'];

/**
 * A subscriber that stays for the whole soak and applies every update; when its socket drops it
 * resumes from its own watermarks, so the dense-watermark check spans reconnects.
 */
export class LiveSubscriber {
  readonly tracker = new TopicTracker();
  reconnects = 0;
  readonly errorPushes: string[] = [];
  private socket?: SyncSocket;
  private stopped = false;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    readonly orgId: string,
  ) {}

  async start(): Promise<void> {
    await this.connect();
    this.heartbeat = setInterval(() => void this.socket?.request('sync:heartbeat', {}, 10_000).catch(() => undefined), 10_000);
  }

  private async connect(): Promise<void> {
    const socket = await SyncSocket.open(this.url, (frame) => {
      for (const update of updatesOf(frame)) this.tracker.apply(update);
      if (frame[3] === 'sync:error') this.errorPushes.push(String(frame[4].code));
    });
    this.socket = socket;
    void socket.closed.then(() => {
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => void this.connect().catch(() => undefined), 200);
    });
    const join = await socket.request('phx_join', {});
    if (join.status !== 'ok') throw new Error(`join refused: ${JSON.stringify(join)}`);
    const resumeAfter = Object.fromEntries(LIVE_TOPICS.map((topic) => [topic, this.tracker.last.get(topic) ?? 0]));
    const reply = await socket.request('sync:subscribe', { topics: LIVE_TOPICS, resume_after: resumeAfter });
    if (reply.status !== 'ok') throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    await this.socket?.close();
  }
}

/**
 * Short-lived subscribers, one after another per lane: connect, resume run_events from a recent
 * cursor (or a run's own topic from 0), check the replay is dense from the cursor, linger briefly,
 * then leave politely or drop the TCP connection. Every few sessions also sends frames the gateway
 * must refuse without dropping the socket.
 */
export class SubscriberChurn {
  sessions = 0;
  abrupt = 0;
  refused = 0;
  updates = 0;
  problemCount = 0;
  readonly problems: string[] = [];
  private stopped = false;
  private lanes: Promise<void>[] = [];

  constructor(
    private readonly socketUrl: (orgId: string, token?: string) => string,
    private readonly lives: LiveSubscriber[],
    private readonly recentRunOf: (orgId: string) => string | undefined,
  ) {}

  start(lanes: number): void {
    this.lanes = Array.from({ length: lanes }, () => this.lane());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lanes);
  }

  private async lane(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.session();
      } catch (error) {
        this.problem(`session failed: ${(error as Error).message}`);
      }
    }
  }

  private async session(): Promise<void> {
    const live = this.lives[Math.floor(Math.random() * this.lives.length)];
    this.sessions++;
    if (Math.random() < 0.05) {
      // A bad token is refused before the upgrade.
      await SyncSocket.open(this.socketUrl(live.orgId, 'not.a.jwt'), () => undefined).then(
        (socket) => {
          this.problem('a bad token was accepted');
          return socket.close();
        },
        (error: { status?: number }) => {
          if (error.status === 401) this.refused++;
          else this.problem(`bad token: expected 401, got ${String(error.status)}`);
        },
      );
      return;
    }
    const runId = Math.random() < 0.3 ? this.recentRunOf(live.orgId) : undefined;
    const topic = runId ? `run:${runId}:events` : 'runtime.run_events';
    const head = runId ? 0 : (live.tracker.last.get(topic) ?? 0);
    const cursor = Math.max(0, head - Math.floor(Math.random() * 300));
    let expected = cursor + 1;
    const socket = await SyncSocket.open(this.socketUrl(live.orgId), (frame) => {
      for (const update of updatesOf(frame)) {
        if (update.topic !== topic) continue;
        this.updates++;
        if (update.watermark !== expected) this.problem(`${topic}: got ${update.watermark}, expected ${expected}`);
        expected = update.watermark + 1;
      }
    });
    try {
      const join = await socket.request('phx_join', {});
      if (join.status !== 'ok') return this.problem(`join: ${JSON.stringify(join)}`);
      if (Math.random() < 0.2) await this.refusedFrames(socket, topic);
      let receivedAtReply = cursor;
      const reply = await socket.request('sync:subscribe', { topics: [topic], resume_after: { [topic]: cursor } }, 30_000, () => {
        receivedAtReply = expected - 1;
      });
      if (reply.status !== 'ok') return this.problem(`subscribe ${topic} from ${cursor}: ${JSON.stringify(reply).slice(0, 300)}`);
      const delivered = ((reply.response as { current_watermarks: { topic: string; watermark: number }[] }).current_watermarks ?? []).find(
        (entry) => entry.topic === topic,
      );
      // The ok reply follows the replay: everything up to the delivered watermark is here already.
      if (delivered && delivered.watermark !== receivedAtReply && delivered.watermark > cursor) {
        this.problem(`${topic}: reply says ${delivered.watermark} delivered, received up to ${receivedAtReply}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1500));
    } finally {
      const abrupt = Math.random() < 0.5;
      if (abrupt) this.abrupt++;
      await socket.close(abrupt);
    }
  }

  /** Frames the gateway answers with an error and no state change; the socket stays open. */
  private async refusedFrames(socket: SyncSocket, topic: string): Promise<void> {
    const cases: [Record<string, unknown>, string][] = [
      [{ topics: [] }, 'bad_subscription'],
      [{ topics: ['runtime.nope'] }, 'forbidden_topic'],
      [{ topics: [topic], resume_after: { [topic]: -1 } }, 'bad_subscription'],
      [{ topics: [topic], resume_after: { [topic]: 1e12 } }, 'bad_subscription'],
    ];
    const [payload, code] = cases[Math.floor(Math.random() * cases.length)];
    const reply = await socket.request('sync:subscribe', payload);
    const got = (reply.response as { code?: string } | undefined)?.code;
    if (reply.status === 'error' && got === code) this.refused++;
    else this.problem(`refused frame ${JSON.stringify(payload)}: expected ${code}, got ${JSON.stringify(reply).slice(0, 200)}`);
  }

  private problem(message: string): void {
    this.problemCount++;
    if (this.problems.length < 20) this.problems.push(message);
    else this.problems[19] = `… and more (last: ${message})`;
  }
}
