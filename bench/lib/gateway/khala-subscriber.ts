/**
 * A lean sync:v1 subscriber for the load generator: one socket, join, subscribe (optionally
 * resuming), then every update's watermark goes through a SequenceCheck and, with its doc_key and
 * arrival time, to `onUpdate`. Frames are scanned with two regexes instead of JSON.parse so the
 * load generator (one core) is not the bottleneck of a fan-out run.
 */
import WebSocket from 'ws';
import { SequenceCheck } from './integrity';

const WATERMARK = /"watermark":(\d+),"hydration_required"/g;
const DOC_KEY = /"doc_key":"([^"]*)"/g;

export interface KhalaSubscriberOptions {
  wsUrl: string;
  token: string;
  topic: string;
  resumeAfter?: number;
  /** Called per new update (not for duplicates); docKey only when wantDocKeys. */
  onUpdate?(subscriber: KhalaSubscriber, watermark: number, at: number, docKey?: string): void;
  wantDocKeys?: boolean;
}

export class KhalaSubscriber {
  readonly check: SequenceCheck;
  received = 0;
  private socket?: WebSocket;

  constructor(private readonly options: KhalaSubscriberOptions) {
    this.check = new SequenceCheck(options.resumeAfter ?? 0);
  }

  /** Resolves once the subscribe reply is ok (replay up to the head at subscribe time already sent). */
  async connect(): Promise<void> {
    const { wsUrl, token, topic, resumeAfter } = this.options;
    const socket = new WebSocket(`${wsUrl}?token=${token}&vsn=2.0.0`, { skipUTF8Validation: true, perMessageDeflate: false });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const subscribed = new Promise<void>((resolve, reject) => {
      socket.on('message', (data: Buffer) => {
        const frame = data.toString();
        if (frame.startsWith('["1","2"')) {
          if (frame.includes('"status":"ok"')) resolve();
          else reject(new Error(`subscribe failed: ${frame.slice(0, 300)}`));
          return;
        }
        if (frame.includes('"sync:update_batch"')) this.onBatch(frame);
      });
      socket.once('close', (code) => reject(new Error(`socket closed (${code}) before subscribe completed`)));
    });
    socket.on('error', () => undefined);
    socket.send('["1","1","sync:v1","phx_join",{}]');
    // Always a cursor (0 = from the start): without one, a snapshot topic answers with the snapshot plan.
    const resume = `,"resume_after":{"${topic}":${resumeAfter ?? 0}}`;
    socket.send(`["1","2","sync:v1","sync:subscribe",{"topics":["${topic}"]${resume}}]`);
    await subscribed;
  }

  private onBatch(frame: string): void {
    const at = performance.now();
    const { onUpdate, wantDocKeys } = this.options;
    WATERMARK.lastIndex = 0;
    DOC_KEY.lastIndex = 0;
    for (let match = WATERMARK.exec(frame); match; match = WATERMARK.exec(frame)) {
      const watermark = Number(match[1]);
      const docKey = wantDocKeys ? DOC_KEY.exec(frame)?.[1] : undefined;
      if (!this.check.see(watermark)) continue;
      this.received++;
      onUpdate?.(this, watermark, at, docKey);
    }
  }

  heartbeat(): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send('[null,"hb","phoenix","heartbeat",{}]');
  }

  /** Drops the connection without a close handshake (a network loss, as in a resume storm). */
  terminate(): void {
    this.socket?.terminate();
  }
}
