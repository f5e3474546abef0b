import { randomUUID } from 'node:crypto';
import { RecordedEvent } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { CodexWorkerSummariesProjection } from '@khala/projections';
import { connectTestDatabase } from '../support/test-database';

/**
 * `?min_revision=N` compares with the stream revision a summary row has folded. An event that leaves
 * the document unchanged (two heartbeats in the same millisecond) writes no new document and no
 * journal row, yet the row must still record that its revision was folded, or a read waiting for
 * it would never be answered.
 */
describe('summary rows record the stream revision they folded', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(() => db?.close());

  const orgId = `org_${randomUUID().slice(0, 8)}`;
  const workerId = `w_${randomUUID().slice(0, 8)}`;
  const at = '2026-11-22T00:00:00.000Z';
  const base = { worker_id: workerId, org_id: orgId, actor_user_id: 'u1', occurred_at: at };
  const recorded = (revision: number, type: string, data: Record<string, unknown> = {}): RecordedEvent => ({
    id: randomUUID(),
    stream: `codexWorker-${orgId}~${workerId}`,
    revision: BigInt(revision),
    position: { commit: BigInt(revision), prepare: BigInt(revision) },
    type,
    data: { ...base, ...data },
    metadata: { correlation_id: 'c', causation_id: 'c', actor: 'u1', schema_version: 1 },
    created: new Date(at),
  });

  async function row() {
    const { rows } = await db.query<{ doc_version: string; stream_revision: string }>(
      'SELECT doc_version, stream_revision FROM runtime.codex_worker_summaries WHERE org_id = $1 AND worker_id = $2',
      [orgId, workerId],
    );
    return { doc_version: Number(rows[0].doc_version), stream_revision: Number(rows[0].stream_revision) };
  }

  it('an unchanged document still moves stream_revision (and only forward)', async () => {
    const projection = new CodexWorkerSummariesProjection();
    const project = (events: RecordedEvent[]) => db.transaction((tx) => projection.project(tx, events));

    await project([recorded(0, 'CodexWorkerStarted', { workspace_ref: 'w', adapter: 'codex' }), recorded(1, 'CodexWorkerHeartbeatRecorded')]);
    expect(await row()).toEqual({ doc_version: 2, stream_revision: 1 });

    // Same millisecond: the document is identical, so no new version, but revision 2 was folded.
    await project([recorded(2, 'CodexWorkerHeartbeatRecorded')]);
    expect(await row()).toEqual({ doc_version: 2, stream_revision: 2 });

    // A redelivered older batch never moves it back.
    await project([recorded(1, 'CodexWorkerHeartbeatRecorded')]);
    expect(await row()).toEqual({ doc_version: 2, stream_revision: 2 });
  });
});
