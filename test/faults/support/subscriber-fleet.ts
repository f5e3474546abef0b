import WebSocket from 'ws';
import { KhalaClient, Update, WebSocketConstructor } from '@khala/khala-client';
import { ApplyResult } from '@khala/khala-client';

/** What one subscriber saw on one topic: every update it was handed, and the state it applied. */
export interface TopicRecord {
  /** watermark → (doc_key, doc_version, payload_hash) of every update received, deduped by watermark. */
  byWatermark: Map<number, { doc_key: string; doc_version: number; payload_hash: string }>;
  /** Updates received again (at or below the applied watermark): a redelivery, dropped by the client. */
  redelivered: number;
  /** Two deliveries of one watermark with different content: corruption. */
  conflicting: number;
  /** The applied state: doc_key → its latest version. */
  documents: Map<string, { doc_version: number; payload_hash: string }>;
}

export interface Subscriber {
  orgId: string;
  client: KhalaClient;
  reconnects: number;
  topics: Map<string, TopicRecord>;
}

export interface FleetOptions {
  url: string;
  /** orgId → a sync token factory for that org. */
  tokens: Map<string, () => Promise<string>>;
  perOrg: number;
  topics: string[];
  /** Connects this many at a time (a thousand at once would only measure the accept queue). */
  connectConcurrency?: number;
}

/** KhalaClient SDK subscribers (the real client: watermarks, idempotent apply, reconnect with backoff). */
export class SubscriberFleet {
  readonly subscribers: Subscriber[] = [];

  private constructor() {}

  static async connect(options: FleetOptions): Promise<SubscriberFleet> {
    const fleet = new SubscriberFleet();
    const pending: { orgId: string; token: () => Promise<string> }[] = [];
    for (const [orgId, token] of options.tokens) for (let i = 0; i < options.perOrg; i++) pending.push({ orgId, token });
    const concurrency = options.connectConcurrency ?? 50;
    for (let i = 0; i < pending.length; i += concurrency) {
      await Promise.all(pending.slice(i, i + concurrency).map(({ orgId, token }) => fleet.add(options, orgId, token)));
    }
    return fleet;
  }

  private async add(options: FleetOptions, orgId: string, token: () => Promise<string>): Promise<void> {
    const client = new KhalaClient({
      url: options.url,
      token,
      topics: options.topics,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      backoff: { initialMs: 100, maxMs: 2_000 },
    });
    const subscriber: Subscriber = { orgId, client, reconnects: 0, topics: new Map() };
    for (const topic of options.topics) {
      subscriber.topics.set(topic, { byWatermark: new Map(), redelivered: 0, conflicting: 0, documents: new Map() });
    }
    client.on('status', (status) => {
      if (status === 'reconnecting') subscriber.reconnects += 1;
    });
    client.on('applied', (update: Update, result: ApplyResult) => {
      const record = subscriber.topics.get(update.topic)!;
      const seen = record.byWatermark.get(update.watermark);
      if (seen && (seen.doc_key !== update.doc_key || seen.doc_version !== update.doc_version || seen.payload_hash !== update.payload_hash)) {
        record.conflicting += 1;
      }
      if (!seen) record.byWatermark.set(update.watermark, { doc_key: update.doc_key, doc_version: update.doc_version, payload_hash: update.payload_hash });
      if (result === ApplyResult.Duplicate) record.redelivered += 1;
    });
    client.on('update', (update: Update) => {
      subscriber.topics.get(update.topic)!.documents.set(update.doc_key, { doc_version: update.doc_version, payload_hash: update.payload_hash });
    });
    this.subscribers.push(subscriber);
    await client.start();
  }

  get reconnects(): number {
    return this.subscribers.reduce((sum, subscriber) => sum + subscriber.reconnects, 0);
  }

  get live(): number {
    return this.subscribers.filter((subscriber) => subscriber.client.status === 'live').length;
  }

  /** Resolves once every subscriber of `orgId` has applied `topic` up to `watermark`. */
  async waitForWatermark(topic: string, head: Map<string, number>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = this.subscribers.filter((subscriber) => subscriber.client.watermark(topic) < (head.get(subscriber.orgId) ?? 0));
      if (behind.length === 0) return;
      if (Date.now() > deadline) {
        const sample = behind.slice(0, 3).map((s) => `${s.orgId}@${s.client.watermark(topic)}/${head.get(s.orgId)} (${s.client.status})`);
        throw new Error(`${behind.length} subscribers never reached the head of ${topic}: ${sample.join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): void {
    for (const subscriber of this.subscribers) subscriber.client.stop();
  }
}
