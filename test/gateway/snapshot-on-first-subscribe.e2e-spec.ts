import WebSocket from 'ws';
import { KhalaClient, MemoryWatermarkStore, SnapshotDocument, Update, WebSocketConstructor } from '@khala/khala-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, socketUrl, syncToken, TestIdentity, useGatewayAndWriter } from './support/gateway-harness';
import { eventually, withinDeadline } from './support/conditions';

/**
 * A subscribe without a cursor to a topic with a snapshot source gets the snapshot plan, whatever
 * the size of the retained journal (docs/protocol/README.md §7): replaying what retention left would hand
 * a new device part of the state and call it complete. The SDK bootstraps from the snapshot and
 * goes live.
 */
describe('first subscribe to a snapshot topic', () => {
  const TOPIC = 'runtime.run_summaries';
  const harness = useGatewayAndWriter();

  /**
   * Six runs, 40 summary versions: rows 1-20 touch every run, rows 21-40 only runs 0-2. Retention
   * removes rows 1-20, so what is retained names 3 of the 6 runs.
   */
  async function sixRunsHalfRetained(): Promise<{ identity: TestIdentity; runs: string[] }> {
    const identity = freshIdentity();
    const runs = Array.from({ length: 6 }, (_, i) => `run${i}_${identity.orgId}`);
    const versions = new Map<string, number>();
    const write = (runId: string) => {
      const version = (versions.get(runId) ?? 0) + 1;
      versions.set(runId, version);
      return harness.writer.writeRunSummary(identity.orgId, runId, version, { status: `v${version}` });
    };
    for (let row = 1; row <= 20; row++) await write(runs[(row - 1) % 6]);
    for (let row = 21; row <= 40; row++) await write(runs[(row - 21) % 3]);
    await harness.writer.prune(TOPIC, identity.orgId, 21);
    return { identity, runs };
  }

  async function readModel(orgId: string): Promise<Map<string, { doc_version: number; payload_hash: string }>> {
    const { rows } = await harness.writer.db.query<{ run_id: string; doc_version: string; payload_hash: string }>(
      'SELECT run_id, doc_version, payload_hash FROM runtime.run_summaries WHERE org_id = $1',
      [orgId],
    );
    return new Map(rows.map((row) => [`run_summary:${row.run_id}`, { doc_version: Number(row.doc_version), payload_hash: row.payload_hash }]));
  }

  it('answers a cursorless subscribe with stale_cursor (cursor_missing) and the snapshot plan, not a partial replay', async () => {
    const { identity } = await sixRunsHalfRetained();
    const client = await RawPhoenixClient.connect(socketUrl(harness.gateway, await syncToken(harness.gateway.keys, identity)));
    try {
      expect(await client.join()).toMatchObject({ status: 'ok' });
      const reply = await client.request('sync:v1', 'sync:subscribe', { topics: [TOPIC] });
      expect(reply[4]).toEqual({
        status: 'error',
        response: expect.objectContaining({
          code: 'stale_cursor',
          full_resync_required: true,
          reason_codes: ['cursor_missing'],
          stale_topics: [expect.objectContaining({ topic: TOPIC, reason: 'cursor_missing', qos_tier: 'snapshot_backed', head_watermark: 40, retention_floor: 20 })],
          snapshot_plan: { format: 'openagents.sync.snapshot.v1', topics: [{ topic: TOPIC, head_watermark: 40, snapshot_url: `/api/sync/snapshot?topic=${TOPIC}` }] },
        }),
      });
      expect(client.updates()).toEqual([]);

      // Also when nothing was retained away, and when nothing was written yet: one rule for every new client.
      const fresh = freshIdentity();
      await harness.writer.writeRunSummary(fresh.orgId, `only_${fresh.orgId}`, 1);
      const empty = freshIdentity();
      for (const identityWithoutCursor of [fresh, empty]) {
        const other = await RawPhoenixClient.connect(socketUrl(harness.gateway, await syncToken(harness.gateway.keys, identityWithoutCursor)));
        try {
          expect(await other.join()).toMatchObject({ status: 'ok' });
          expect((await other.request('sync:v1', 'sync:subscribe', { topics: [TOPIC] }))[4]).toMatchObject({
            status: 'error',
            response: { code: 'stale_cursor', reason_codes: ['cursor_missing'], snapshot_plan: { topics: [{ topic: TOPIC }] } },
          });
        } finally {
          await other.close();
        }
      }
    } finally {
      await client.close();
    }
  });

  it('an SDK client with an empty store rebuilds all six runs from the snapshot, then goes live', async () => {
    const { identity, runs } = await sixRunsHalfRetained();
    const client = new KhalaClient({
      url: harness.gateway.wsUrl,
      token: () => syncToken(harness.gateway.keys, identity),
      topics: [TOPIC],
      store: new MemoryWatermarkStore(),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      snapshotPageSize: 4,
    });
    const state = new Map<string, { doc_version: number; payload_hash: string }>();
    const resyncs: unknown[] = [];
    const live: Update[] = [];
    client.on('resync', (topic, mode, info) => {
      resyncs.push({ topic, mode, reasons: info.reasons });
      state.clear();
    });
    client.on('snapshot_document', (_topic, document: SnapshotDocument) => state.set(document.doc_key, { doc_version: document.doc_version, payload_hash: document.payload_hash }));
    client.on('update', (update) => {
      live.push(update);
      state.set(update.doc_key, { doc_version: update.doc_version, payload_hash: update.payload_hash });
    });
    try {
      await withinDeadline(client.start(), 'start()');
      expect(resyncs).toEqual([{ topic: TOPIC, mode: 'snapshot', reasons: ['cursor_missing'] }]);
      expect(state.size).toBe(6);
      expect(state).toEqual(await readModel(identity.orgId));
      expect(client.watermark(TOPIC)).toBe(40);

      await harness.writer.writeRunSummary(identity.orgId, runs[5], 4, { status: 'finished' });
      await eventually(() => live.length === 1);
      expect(live[0]).toMatchObject({ watermark: 41, doc_key: `run_summary:${runs[5]}`, payload: { status: 'finished' } });
      expect(state).toEqual(await readModel(identity.orgId));
    } finally {
      client.stop();
    }
  });
});
