import WebSocket from 'ws';
import { KhalaClient, MemoryWatermarkStore, SnapshotDocument, Update, WebSocketConstructor } from '@khala/khala-client';
import { freshIdentity, syncToken, useGatewayAndWriter } from './support/gateway-harness';
import { eventually } from './support/conditions';

/**
 * The SDK's answer to stale_cursor on a snapshot topic (docs/protocol/README.md §7, §8, §10): it pages
 * the gateway's snapshot, then resubscribes at the snapshot's watermark and continues live with
 * nothing missing. Summaries and journal rows are written together, as the projector does.
 */
describe('khala-client: stale cursor → snapshot bootstrap → live', () => {
  const harness = useGatewayAndWriter();

  const writeSummary = (orgId: string, runId: string, status: string, version: number) => harness.writer.writeRunSummary(orgId, runId, version, { status });

  it('rebuilds from the snapshot and then applies live updates in order', async () => {
    const identity = freshIdentity();
    for (let i = 0; i < 12; i++) await writeSummary(identity.orgId, `r${i}_${identity.orgId}`, 'created', 1);
    await writeSummary(identity.orgId, `r0_${identity.orgId}`, 'finished', 2);
    await harness.writer.prune('runtime.run_summaries', identity.orgId, 10);

    const store = new MemoryWatermarkStore();
    store.set('runtime.run_summaries', 2); // below the retention floor (9)
    const client = new KhalaClient({
      url: harness.gateway.wsUrl,
      token: () => syncToken(harness.gateway.keys, identity),
      topics: ['runtime.run_summaries'],
      store,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      snapshotPageSize: 5,
    });
    const resyncs: unknown[] = [];
    const documents: SnapshotDocument[] = [];
    const live: Update[] = [];
    client.on('resync', (topic, mode, info) => resyncs.push({ topic, mode, reasons: info.reasons }));
    client.on('snapshot_document', (_topic, document) => documents.push(document));
    client.on('update', (update) => live.push(update));
    try {
      await client.start();
      expect(resyncs).toEqual([{ topic: 'runtime.run_summaries', mode: 'snapshot', reasons: ['retention_floor_breach'] }]);
      expect(documents).toHaveLength(12);
      expect(documents.find((d) => d.doc_key === `run_summary:r0_${identity.orgId}`)).toMatchObject({ doc_version: 2, payload: { status: 'finished' } });
      expect(client.watermark('runtime.run_summaries')).toBe(13);
      expect(live).toEqual([]);

      await writeSummary(identity.orgId, `r1_${identity.orgId}`, 'running', 2);
      await eventually(() => live.length === 1);
      expect(live[0]).toMatchObject({ watermark: 14, payload: { status: 'running' } });
    } finally {
      client.stop();
    }
  });
});
