import WebSocket from 'ws';
import {
  ApplyResult,
  KhalaClient,
  MemoryWatermarkStore,
  SnapshotPage,
  SyncErrorPayload,
  Update,
  WebSocketConstructor,
} from '@khala/khala-client';

/** A document as the application holds it, per topic. */
export interface HeldDocument {
  doc_key: string;
  doc_version: number;
  payload: unknown;
  payload_hash: string;
  /** Journal watermark it came with (undefined for snapshot documents). */
  watermark?: number;
}

/**
 * What the application knows about one topic, and what the next update must be: the watermark
 * after the client's base, where the base moves only at a documented point (the retained start
 * for a new device, the stored cursor on resume, a snapshot's watermark, the head of a reset).
 */
export interface TopicView {
  documents: Map<string, HeldDocument>;
  expectedNext: number;
  /** Watermarks applied (every one equal to expectedNext when it arrived). */
  applied: number;
  /** Watermark ranges the client was told it skips: [from, to] inclusive (stale_cursor without snapshot). */
  skipped: { from: number; to: number }[];
  /** The base the client started from as a new device: nothing at or below it is owed to it. */
  initialBase: number;
  subscribesThisStep: number;
  subscribesTotal: number;
}

export interface ClientIdentity {
  orgId: string;
  /** Run ids the org owns (the model's runs): any other id in a doc_key is another org's data. */
  ownsRun(runId: string): boolean;
}

export interface ConnectContext {
  url: string;
  token: () => Promise<string>;
  /** retained_from of each topic right now (a new device's replay starts there). */
  retainedFrom: (topics: string[]) => Promise<Map<string, number>>;
}

/**
 * A real KhalaClient over a real WebSocket, observed from the outside: every sync:subscribe frame
 * it sends (counted per topic), every update and snapshot document it applies, and every base
 * move it announces. The watermark store and the application's documents outlive the client, as
 * they would on a device that goes offline and comes back.
 */
export class ObservedClient {
  readonly store = new MemoryWatermarkStore();
  readonly views = new Map<string, TopicView>();
  /** Invariant breaks seen as they happened (an event handler cannot fail the test itself). */
  readonly violations: string[] = [];
  readonly errors: string[] = [];
  client?: KhalaClient;
  connects = 0;
  resyncs = 0;
  snapshotsFetched = 0;

  constructor(
    readonly id: number,
    readonly org: number,
    readonly identity: ClientIdentity,
    readonly topics: string[],
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Starts a KhalaClient on this device's store. Resolves when it is started; going live is awaited by settle(). */
  async connect(context: ConnectContext): Promise<void> {
    const retained = await context.retainedFrom(this.topics);
    for (const topic of this.topics) {
      const stored = this.store.get(topic);
      const view = this.views.get(topic);
      // A topic this device never applied anything on is subscribed without a cursor: the first
      // update it may apply is the first one still retained.
      const cursorless = stored === undefined ? retained.get(topic)! : undefined;
      if (!view) {
        this.views.set(topic, {
          documents: new Map(),
          expectedNext: cursorless ?? stored! + 1,
          applied: 0,
          skipped: [],
          initialBase: (cursorless ?? stored! + 1) - 1,
          subscribesThisStep: 0,
          subscribesTotal: 0,
        });
      } else {
        view.expectedNext = cursorless ?? stored! + 1;
        if (cursorless !== undefined && view.applied === 0) view.initialBase = cursorless - 1;
      }
    }
    const client = new KhalaClient({
      url: context.url,
      token: context.token,
      topics: this.topics,
      store: this.store,
      WebSocket: this.countingWebSocket(),
      fetch: this.observingFetch(),
      snapshotPageSize: 7,
      heartbeatIntervalMs: 10_000,
      backoff: { initialMs: 100, maxMs: 2_000 },
    });
    client.on('update', (update) => this.onUpdate(update));
    client.on('applied', (update, result) => {
      if (result !== ApplyResult.Advanced) this.checkOwnership(update.topic, update.doc_key, update.payload);
    });
    client.on('snapshot_document', (topic, document) => {
      this.checkOwnership(topic, document.doc_key, document.payload);
      this.view(topic)?.documents.set(document.doc_key, { ...document });
    });
    client.on('resync', (topic, mode, info) => this.onResync(topic, mode, info.head_watermark, client));
    client.on('error', (error) => this.errors.push(describeError(error)));
    this.client = client;
    this.connects += 1;
    // start() resolves on the first 'live'; a client that never gets there is caught by settle().
    void client.start().catch((error: Error) => this.errors.push(`start: ${error.message}`));
  }

  disconnect(): void {
    this.client?.stop();
    this.client = undefined;
  }

  /** The watermark the SDK says it applied last (what it would resume from). */
  watermark(topic: string): number {
    return this.client?.watermark(topic) ?? this.store.get(topic) ?? 0;
  }

  status(): string {
    return this.client?.status ?? 'offline';
  }

  startStep(): void {
    for (const view of this.views.values()) view.subscribesThisStep = 0;
  }

  private view(topic: string): TopicView | undefined {
    const view = this.views.get(topic);
    if (!view) this.violations.push(`client ${this.id} got data on ${topic}, which it never subscribed to`);
    return view;
  }

  private onUpdate(update: Update): void {
    this.checkOwnership(update.topic, update.doc_key, update.payload);
    const view = this.view(update.topic);
    if (!view) return;
    if (update.watermark !== view.expectedNext) {
      this.violations.push(
        `client ${this.id} applied ${update.topic} watermark ${update.watermark} where ${view.expectedNext} was next (gap or rewind without a documented reset)`,
      );
    }
    view.expectedNext = update.watermark + 1;
    view.applied += 1;
    // Watermark order is the order of truth (a rebuild's repair may carry the same doc_version).
    view.documents.set(update.doc_key, {
      doc_key: update.doc_key,
      doc_version: update.doc_version,
      payload: update.payload,
      payload_hash: update.payload_hash,
      watermark: update.watermark,
    });
  }

  private onResync(topic: string, mode: 'snapshot' | 'reset', head: number, client: KhalaClient): void {
    const view = this.view(topic);
    if (!view) return;
    this.resyncs += 1;
    if (mode === 'snapshot') {
      // The snapshot replaces what the application held; its watermark (seen by observingFetch) is the new base.
      view.documents.clear();
      return;
    }
    // No snapshot source: history up to the head is skipped, and the client says so.
    const last = client.watermark(topic);
    if (head > last) view.skipped.push({ from: last + 1, to: head });
    view.expectedNext = Math.max(view.expectedNext, head + 1);
  }

  private checkOwnership(topic: string, docKey: string, payload: unknown): void {
    const orgId = (payload as { org_id?: unknown } | null)?.org_id;
    if (payload !== null && orgId !== this.identity.orgId) {
      this.violations.push(`client ${this.id} (org ${this.identity.orgId}) got ${docKey} of org ${String(orgId)} on ${topic}`);
    }
    const runId = /^run_(?:summary|event):([^:]+)/.exec(docKey)?.[1];
    if (!runId || !this.identity.ownsRun(runId)) {
      this.violations.push(`client ${this.id} (org ${this.identity.orgId}) got ${docKey} on ${topic}, not one of its org's runs`);
    }
  }

  /** The ws package, with every sync:subscribe this client sends counted per topic. */
  private countingWebSocket(): WebSocketConstructor {
    const views = this.views;
    class CountingWebSocket extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        try {
          const frame = JSON.parse(String(data)) as [unknown, unknown, string, string, { topics?: unknown }];
          if (frame[3] === 'sync:subscribe' && Array.isArray(frame[4]?.topics)) {
            for (const topic of frame[4].topics as string[]) {
              const view = views.get(topic);
              if (view) {
                view.subscribesThisStep += 1;
                view.subscribesTotal += 1;
              }
            }
          }
        } catch {
          // not JSON: not ours to count
        }
        (super.send as (...args: unknown[]) => void)(data, ...rest);
      }
    }
    return CountingWebSocket as unknown as WebSocketConstructor;
  }

  /** fetch, noting each snapshot page's watermark: the base the topic continues from. */
  private observingFetch(): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init);
      const url = new URL(String(input instanceof Request ? input.url : input));
      const topic = url.searchParams.get('topic');
      if (response.ok && topic && url.pathname.endsWith('/api/sync/snapshot')) {
        const page = (await response.clone().json()) as SnapshotPage;
        const view = this.views.get(topic);
        if (view) view.expectedNext = page.watermark + 1;
        this.snapshotsFetched += url.searchParams.has('page_token') ? 0 : 1;
      }
      return response;
    };
  }
}

function describeError(error: SyncErrorPayload | Error): string {
  if (error instanceof Error) return error.message;
  return `${error.code}${error.message ? `: ${error.message}` : ''}`;
}
