import { randomUUID } from 'node:crypto';
import type { SyncPrincipal } from '@khala/auth';
import { JournalRepository, JournalRow } from './journal.repository';
import { encodeFrameRaw, PhoenixMessage, replyFrame } from './phoenix';
import { SyncError } from './sync.error';
import { isTopicClass } from './topics';

export const SYNC_CHANNEL = 'sync:v1';
const MAX_BATCH_UPDATES = 200;
const MAX_BATCH_BYTES = 2 * 1024 * 1024;
const MAX_TOPICS = 64;

interface TopicCursor {
  topic: string;
  /** Last watermark sent to this client. */
  delivered: number;
}

export interface SessionTransport {
  send(frame: string): void;
}

/**
 * One client's sync:v1 state. Replay and live delivery read the journal from the same per-topic
 * cursor and are serialised per session, so there is no gap between the end of replay and live.
 */
export class SyncSession {
  readonly subscriptionId = randomUUID();
  private joinRef: string | null = null;
  private readonly cursors = new Map<string, TopicCursor>();
  private pulling: Promise<void> = Promise.resolve();
  private live = false;

  constructor(
    private readonly principal: SyncPrincipal,
    private readonly journal: JournalRepository,
    private readonly transport: SessionTransport,
  ) {}

  async handle(message: PhoenixMessage): Promise<void> {
    try {
      if (message.topic === 'phoenix' && message.event === 'heartbeat') {
        return this.transport.send(replyFrame(message, 'ok', {}));
      }
      if (message.event === 'phx_join') return this.join(message);
      if (message.topic !== SYNC_CHANNEL || this.joinRef === null) {
        throw new SyncError('not_joined', `join ${SYNC_CHANNEL} first`);
      }
      switch (message.event) {
        case 'phx_leave':
          this.joinRef = null;
          this.cursors.clear();
          return this.transport.send(replyFrame(message, 'ok', {}));
        case 'sync:subscribe':
          return await this.subscribe(message);
        case 'sync:heartbeat':
          return this.transport.send(
            replyFrame(message, 'ok', { subscription_id: this.subscriptionId, watermarks: this.watermarks() }),
          );
        default:
          throw new SyncError('unknown_event', `unknown event ${message.event}`);
      }
    } catch (error) {
      const syncError = error instanceof SyncError ? error : new SyncError('internal', 'internal error');
      this.transport.send(replyFrame(message, 'error', syncError.toPayload()));
    }
  }

  /** A journal wake-up: pull what is new for every subscribed topic (no-op until replay is done). */
  wake(): void {
    if (!this.live) return;
    this.pulling = this.pulling.then(() => this.pullAll(false)).catch(() => undefined);
  }

  private join(message: PhoenixMessage): void {
    if (message.topic !== SYNC_CHANNEL) throw new SyncError('bad_topic', `only ${SYNC_CHANNEL} can be joined`);
    this.joinRef = message.joinRef ?? message.ref;
    this.transport.send(
      replyFrame(message, 'ok', {
        subscription_id: this.subscriptionId,
        allowed_topics: this.principal.scopes.filter(isTopicClass),
        current_watermarks: [],
      }),
    );
  }

  private async subscribe(message: PhoenixMessage): Promise<void> {
    const topics = message.payload.topics;
    if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_TOPICS || !topics.every((t) => typeof t === 'string')) {
      throw new SyncError('bad_subscription', `topics must be 1..${MAX_TOPICS} strings`);
    }
    const forbidden = topics.filter((topic) => !isTopicClass(topic) || !this.principal.scopes.includes(topic));
    if (forbidden.length) {
      throw new SyncError('forbidden_topic', 'not allowed to subscribe to these topics', { forbidden_topics: forbidden });
    }
    const resumeAfter = parseResumeAfter(message.payload.resume_after);
    this.live = false;
    for (const topic of topics as string[]) {
      this.cursors.set(topic, { topic, delivered: resumeAfter.get(topic) ?? 0 });
    }
    // Replay runs on the session's serial queue, so a wake-up that lands meanwhile waits for it.
    const replay = this.pulling.then(() => this.pullAll(true));
    this.pulling = replay.catch(() => undefined);
    await replay;
    this.transport.send(
      replyFrame(message, 'ok', { subscription_id: this.subscriptionId, topics, current_watermarks: this.watermarks() }),
    );
    this.live = true;
    this.wake();
  }

  private async pullAll(replay: boolean): Promise<void> {
    for (const cursor of this.cursors.values()) {
      for (;;) {
        const rows = await this.journal.readAfter(cursor.topic, this.principal.orgId, cursor.delivered, MAX_BATCH_UPDATES);
        if (rows.length === 0) break;
        const { frame, last } = this.batchFrame(cursor.topic, rows, replay);
        this.transport.send(frame);
        cursor.delivered = last;
        if (rows.length < MAX_BATCH_UPDATES && last === rows[rows.length - 1].watermark) break;
      }
    }
  }

  /** Packs rows into one update batch within the byte budget; the first row is always admitted. */
  private batchFrame(topic: string, rows: JournalRow[], replay: boolean): { frame: string; last: number } {
    const parts: string[] = [];
    let bytes = 0;
    let last = 0;
    for (const row of rows) {
      const part = encodeUpdate(topic, row);
      if (parts.length > 0 && bytes + part.length > MAX_BATCH_BYTES) break;
      parts.push(part);
      bytes += part.length;
      last = row.watermark;
    }
    const payload = `{"updates":[${parts.join(',')}],"replay_complete":${replay ? 'false' : 'true'},"head_watermarks":[{"topic":${JSON.stringify(topic)},"watermark":${last}}]}`;
    return { frame: encodeFrameRaw(this.joinRef, null, SYNC_CHANNEL, 'sync:update_batch', payload), last };
  }

  private watermarks() {
    return [...this.cursors.values()].map((cursor) => ({ topic: cursor.topic, watermark: cursor.delivered }));
  }
}

function encodeUpdate(topic: string, row: JournalRow): string {
  return `{"topic":${JSON.stringify(topic)},"doc_key":${JSON.stringify(row.doc_key)},"doc_version":${row.doc_version},"payload":${row.payload ?? 'null'},"payload_hash":${JSON.stringify(row.payload_hash)},"watermark":${row.watermark},"hydration_required":${row.hydration_required}}`;
}

function parseResumeAfter(value: unknown): Map<string, number> {
  const cursors = new Map<string, number>();
  if (value === undefined || value === null) return cursors;
  const entries: [unknown, unknown][] = Array.isArray(value)
    ? value.map((entry) => [(entry as { topic?: unknown })?.topic, (entry as { watermark?: unknown })?.watermark])
    : typeof value === 'object'
      ? Object.entries(value as Record<string, unknown>)
      : [[undefined, undefined]];
  for (const [topic, watermark] of entries) {
    const parsed = typeof watermark === 'string' && /^\d+$/.test(watermark) ? Number(watermark) : watermark;
    if (typeof topic !== 'string' || typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 0) {
      throw new SyncError('bad_subscription', 'resume_after watermarks must be non-negative integers');
    }
    cursors.set(topic, parsed);
  }
  return cursors;
}
