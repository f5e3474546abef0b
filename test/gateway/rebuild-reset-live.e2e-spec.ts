import WebSocket from 'ws';
import { PostgresEventStore } from '@khala/eventstore';
import { KhalaClient, MemoryWatermarkStore, WebSocketConstructor } from '@khala/khala-client';
import { Database } from '@khala/platform';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { rebuildProjection } from '@khala/projections';
import { tableProjection } from '../../apps/cli/src/projections/catalog';
import { frame, RuntimeApi } from '../runtime/support/runtime-api';
import { freshIdentity, startTestSystem, syncTokenFor, TestIdentity } from '../support/system';
import { connectTestDatabase, isPgliteRun, usePrivateDatabase } from '../support/test-database';
import { startGateway, TestGateway } from './support/gateway-harness';
import { eventually, withinDeadline } from './support/conditions';

const SUMMARIES = 'runtime.run_summaries';
const EVENTS = 'runtime.run_events';

interface Resync {
  topic: string;
  mode: 'snapshot' | 'reset';
  head: number;
  reasons: string[];
}

/**
 * A live KhalaClient, seen from the application: the documents it holds per topic (snapshot
 * documents and updates, in watermark order) and every watermark it applied, which must follow
 * the previous one, or the base a resync announced, without a gap.
 */
class WatchedClient {
  readonly client: KhalaClient;
  readonly documents = new Map<string, Map<string, string>>();
  readonly resyncs: Resync[] = [];
  readonly violations: string[] = [];
  private readonly expectedNext = new Map<string, number>();

  constructor(url: string, token: () => Promise<string>, readonly topics: string[]) {
    for (const topic of topics) this.documents.set(topic, new Map());
    this.client = new KhalaClient({
      url,
      token,
      topics,
      store: new MemoryWatermarkStore(),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      snapshotPageSize: 3,
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    this.client.on('resync', (topic, mode, info) => {
      this.resyncs.push({ topic, mode, head: info.head_watermark, reasons: info.reasons });
      // A snapshot replaces what the application held; a reset skips to the head.
      if (mode === 'snapshot') this.documents.get(topic)!.clear();
      this.expectedNext.delete(topic);
    });
    this.client.on('snapshot_document', (topic, document) => this.documents.get(topic)!.set(document.doc_key, document.payload_hash));
    this.client.on('update', (update) => {
      const expected = this.expectedNext.get(update.topic);
      if (expected !== undefined && update.watermark !== expected) {
        this.violations.push(`${update.topic}: applied ${update.watermark} where ${expected} was next`);
      }
      this.expectedNext.set(update.topic, update.watermark + 1);
      this.documents.get(update.topic)!.set(update.doc_key, update.payload_hash);
    });
  }

  start(): Promise<void> {
    return withinDeadline(this.client.start(), 'start()');
  }

  live(heads: Map<string, number>): boolean {
    return this.client.status === 'live' && this.topics.every((topic) => this.client.watermark(topic) === heads.get(topic));
  }
}

/**
 * `oa projections rebuild <name> --reset` with clients live on the topics it resets. The reset
 * moves each (topic, org) head past a watermark no journal row carries and the retention floor
 * past it; every live subscription, on every gateway, is told with a stale_cursor push at once (not
 * only when the next journal row of its topic appears), so the SDK re-bootstraps from the snapshot
 * (run_summaries) or restarts at the head (event topics), and goes on with dense watermarks.
 */
describe('live clients across rebuild --reset', () => {
  let privateDatabase: { release(): Promise<void> };
  let db: Database;
  let system: RunningSystem;
  /**
   * A second gateway instance. On Postgres its fallback poll is a minute (the most allowed), so what
   * reaches its clients came through the NOTIFY; PGlite has no NOTIFY, so there it polls as usual.
   */
  let notifyOnlyGateway: TestGateway;

  beforeAll(async () => {
    privateDatabase = await usePrivateDatabase();
    db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 4 });
    system = await startTestSystem();
    notifyOnlyGateway = await startGateway(isPgliteRun() ? {} : { POLL_INTERVAL_MS: '60000' }, system.keys);
  });
  afterAll(async () => {
    await notifyOnlyGateway?.stop();
    await system?.stop();
    await db?.close();
    await privateDatabase?.release();
  });

  async function heads(orgId: string, topics: string[]): Promise<Map<string, number>> {
    const { rows } = await db.query<{ topic: string; head_watermark: string }>(
      'SELECT topic, head_watermark FROM khala.topic_sequences WHERE org_id = $1 AND topic = ANY($2::text[])',
      [orgId, topics],
    );
    const found = new Map(rows.map((row) => [row.topic, Number(row.head_watermark)]));
    return new Map(topics.map((topic) => [topic, found.get(topic) ?? 0]));
  }

  async function summaries(orgId: string): Promise<Map<string, string>> {
    const { rows } = await db.query<{ run_id: string; payload_hash: string }>(
      'SELECT run_id, payload_hash FROM runtime.run_summaries WHERE org_id = $1',
      [orgId],
    );
    return new Map(rows.map((row) => [`run_summary:${row.run_id}`, row.payload_hash]));
  }

  /** Until every client is live at its topics' heads (polled; a generous deadline for a loaded machine). */
  async function allLiveAtHeads(orgId: string, clients: WatchedClient[], what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const topics = [...new Set(clients.flatMap((client) => client.topics))];
      const current = await heads(orgId, topics);
      if (clients.every((client) => client.live(current))) return;
      if (Date.now() > deadline) {
        const state = clients.map((client) => `${client.client.status} ${client.topics.map((t) => `${t}@${client.client.watermark(t)}/${current.get(t)}`).join(' ')}`);
        throw new Error(`timed out waiting for ${what}: ${state.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  const systemGatewayUrl = () => `${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket`;

  async function liveClients(
    identity: TestIdentity,
    runId: string,
    eventGatewayUrl: string,
  ): Promise<{ summaryClient: WatchedClient; eventClient: WatchedClient; eventTopics: string[] }> {
    const token = (scopes: string[]) => () => syncTokenFor(system, identity, scopes);
    const eventTopics = [EVENTS, `run:${runId}:events`];
    const summaryClient = new WatchedClient(systemGatewayUrl(), token([SUMMARIES]), [SUMMARIES]);
    const eventClient = new WatchedClient(eventGatewayUrl, token([EVENTS]), eventTopics);
    await summaryClient.start();
    await eventClient.start();
    // The summary client bootstrapped from the snapshot (a new device of a snapshot topic).
    expect(summaryClient.resyncs).toEqual([expect.objectContaining({ topic: SUMMARIES, mode: 'snapshot', reasons: ['cursor_missing'] })]);
    return { summaryClient, eventClient, eventTopics };
  }

  async function runWithFrames(api: RuntimeApi, frames: number): Promise<string> {
    const runId = await api.createRun();
    const response = await api.post(`/api/runtime/runs/${runId}/frames`, {
      frames: [frame(`start_${runId}`, 'run.started'), ...Array.from({ length: frames }, (_, i) => frame(`f${i}_${runId}`, 'run.text_delta', { text: `t${i}` }))],
    });
    expect(response.status).toBe(202);
    return runId;
  }

  /** Each client was told (stale_cursor → resync) and is live at the new heads, with no write after the reset. */
  async function expectToldOfReset(identity: TestIdentity, summaryClient: WatchedClient, eventClient: WatchedClient, before: Map<string, number>): Promise<void> {
    await allLiveAtHeads(identity.orgId, [summaryClient, eventClient], 'every client resynced after the reset');
    const after = await heads(identity.orgId, [SUMMARIES, ...eventClient.topics]);
    for (const [topic, head] of before) expect(after.get(topic)).toBe(head + 1);
    expect(summaryClient.resyncs.slice(1)).toEqual([
      { topic: SUMMARIES, mode: 'snapshot', head: after.get(SUMMARIES), reasons: ['retention_floor_breach'] },
    ]);
    expect(eventClient.resyncs.map((resync) => resync.topic).sort()).toEqual([...eventClient.topics].sort());
    for (const resync of eventClient.resyncs) {
      expect(resync).toEqual({ topic: resync.topic, mode: 'reset', head: after.get(resync.topic), reasons: ['retention_floor_breach'] });
    }
    // The rebuilt read model, from the snapshot.
    expect(summaryClient.documents.get(SUMMARIES)).toEqual(await summaries(identity.orgId));
  }

  it('every live client gets stale_cursor right after the reset commits, resyncs, and continues with dense watermarks', async () => {
    const identity = freshIdentity();
    const api = await RuntimeApi.as(system, identity);
    const runId = await runWithFrames(api, 3);
    // One client per gateway instance: the reset reaches every gateway, not only the one in the process that ran it.
    const { summaryClient, eventClient, eventTopics } = await liveClients(identity, runId, notifyOnlyGateway.wsUrl);
    try {
      await allLiveAtHeads(identity.orgId, [summaryClient, eventClient], 'the clients live at the heads');
      const before = await heads(identity.orgId, [SUMMARIES, ...eventTopics]);
      expect(before.get(EVENTS)).toBeGreaterThanOrEqual(4);

      const store = new PostgresEventStore(db);
      for (const name of ['run_summaries', 'run_events'] as const) {
        const result = await rebuildProjection(store, db, tableProjection(name), { reset: true, batchSize: 500 });
        expect(result).toMatchObject({ status: 'swapped' });
        expect(result.reset_topics).toBeGreaterThanOrEqual(1);
      }
      // Nothing is written after the reset: the clients must learn of it from the reset itself.
      await expectToldOfReset(identity, summaryClient, eventClient, before);

      // Then life goes on: the next updates follow the new bases without a gap.
      const more = await api.post(`/api/runtime/runs/${runId}/frames`, { frames: [frame(`after_${runId}`, 'run.text_delta', { text: 'after' })] });
      expect(more.status).toBe(202);
      await eventually(() => eventClient.topics.every((topic) => eventClient.client.watermark(topic) > before.get(topic)! + 1), 'the event after the reset');
      await allLiveAtHeads(identity.orgId, [summaryClient, eventClient], 'the clients live after the next write');
      const after = await heads(identity.orgId, [SUMMARIES, ...eventTopics]);
      for (const topic of eventTopics) expect(after.get(topic)).toBe(before.get(topic)! + 2);
      expect(summaryClient.documents.get(SUMMARIES)).toEqual(await summaries(identity.orgId));
      // The event appended after the reset reached both event topics (a reset keeps what the application held).
      for (const topic of eventTopics) expect(eventClient.documents.get(topic)!.has(`run_event:${runId}:6`)).toBe(true);
      expect(summaryClient.violations).toEqual([]);
      expect(eventClient.violations).toEqual([]);
    } finally {
      summaryClient.client.stop();
      eventClient.client.stop();
    }
  });

  it('a gateway that missed the notification still tells its clients (the poll checks the topic floors)', async () => {
    const identity = freshIdentity();
    const api = await RuntimeApi.as(system, identity);
    const runId = await runWithFrames(api, 2);
    const { summaryClient, eventClient, eventTopics } = await liveClients(identity, runId, systemGatewayUrl());
    try {
      await allLiveAtHeads(identity.orgId, [summaryClient, eventClient], 'the clients live at the heads');
      const before = await heads(identity.orgId, [SUMMARIES, ...eventTopics]);
      // What a reset does to this org's sequences, committed without any NOTIFY (as if every
      // gateway's LISTEN connection were down when it committed).
      await db.transaction(async (tx) => {
        await tx.query(
          `UPDATE khala.topic_sequences SET head_watermark = head_watermark + 1, retained_from = head_watermark + 2 WHERE org_id = $1 AND topic = ANY($2::text[])`,
          [identity.orgId, [SUMMARIES, ...eventTopics]],
        );
        await tx.query(
          `UPDATE runtime.run_summaries s SET watermark = t.head_watermark FROM khala.topic_sequences t WHERE t.topic = $2 AND t.org_id = s.org_id AND s.org_id = $1`,
          [identity.orgId, SUMMARIES],
        );
      });
      await expectToldOfReset(identity, summaryClient, eventClient, before);
      expect(summaryClient.violations).toEqual([]);
      expect(eventClient.violations).toEqual([]);
    } finally {
      summaryClient.client.stop();
      eventClient.client.stop();
    }
  });
});
