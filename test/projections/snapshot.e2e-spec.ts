import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { ProjectorRunner } from '@khala/projections';
import { RawPhoenixClient } from '../support/phoenix-client';
import { connectTestDatabase, isPgliteRun } from '../support/test-database';
import { freshIdentity, TestIdentity } from '../support/system';
import { socketUrl, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import { eventually, isolatedCategories, isolatedProjections, runCreated, runFrame, runnersFor } from './support/projection-fixtures';

const TOPIC = 'runtime.run_summaries';

interface SnapshotBody {
  topic: string;
  watermark: number;
  documents: { doc_key: string; doc_version: number; payload: Record<string, unknown>; payload_hash: string }[];
  next_page_token: string | null;
}

describe('GET /api/sync/snapshot', () => {
  let db: Database;
  let gateway: TestGateway;
  let store: PostgresEventStore;
  let runners: ProjectorRunner[];
  const categories = isolatedCategories();

  beforeAll(async () => {
    db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 8 });
    store = new PostgresEventStore(db, { pollIntervalMs: 20 });
    gateway = await startGateway();
    runners = runnersFor(store, db, isolatedProjections(categories).slice(0, 1), { liveBatchSize: 3 });
    for (const runner of runners) runner.start();
  });
  afterAll(async () => {
    await Promise.all(runners.map((runner) => runner.stop()));
    await gateway.stop();
    await db.close();
  });

  async function get(identity: TestIdentity, query: string, scopes = [TOPIC]): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${gateway.url}/api/sync/snapshot?${query}`, {
      headers: { authorization: `Bearer ${await syncToken(gateway.keys, identity, scopes)}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function fullSnapshot(identity: TestIdentity, pageSize: number, between?: () => Promise<void>): Promise<{ watermark: number; documents: SnapshotBody['documents']; pages: number }> {
    let token: string | null = null;
    const documents: SnapshotBody['documents'] = [];
    let watermark: number | undefined;
    let pages = 0;
    do {
      const { status, body } = await get(identity, `topic=${TOPIC}&page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      expect(status).toBe(200);
      const page = body as unknown as SnapshotBody;
      // Every page of one snapshot is at the watermark its first page pinned.
      if (watermark === undefined) watermark = page.watermark;
      expect(page.watermark).toBe(watermark);
      documents.push(...page.documents);
      token = page.next_page_token;
      pages += 1;
      if (between) await between();
    } while (token);
    expect(new Set(documents.map((doc) => doc.doc_key)).size).toBe(documents.length);
    return { watermark: watermark!, documents, pages };
  }

  async function appendFrames(orgId: string, runs: { id: string; revision: bigint | 'no_stream' }[], rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        const events = run.revision === 'no_stream' ? [runCreated(run.id, orgId), runFrame(run.id, orgId, 'RunStarted')] : [runFrame(run.id, orgId, 'RunTextDelta', { round })];
        run.revision = (await store.append(categories.runStream(run.id), events, { expectedRevision: run.revision })).nextExpectedRevision;
      }
    }
  }

  it('snapshot + subscribe from its watermark under concurrent writes equals a fresh snapshot', async () => {
    const identity = freshIdentity();
    const runs = Array.from({ length: 12 }, () => ({ id: `run_${randomUUID().slice(0, 8)}`, revision: 'no_stream' as bigint | 'no_stream' }));
    await appendFrames(identity.orgId, runs.slice(0, 8), 2);
    await eventually(
      () => db.query<{ n: string }>('SELECT count(*) AS n FROM runtime.run_summaries WHERE org_id = $1', [identity.orgId]),
      (result) => result.rows[0].n === '8',
      'first summaries',
    );

    // Writers keep changing existing runs and creating new ones while the snapshot is paged.
    let writing = true;
    const writers = (async () => {
      let round = 0;
      while (writing) {
        await appendFrames(identity.orgId, round % 2 === 0 ? runs.slice(0, 8) : runs.slice(8), 1);
        round += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const snapshot = await fullSnapshot(identity, 3, () => new Promise((resolve) => setTimeout(resolve, 40)));
    expect(snapshot.pages).toBeGreaterThan(1);

    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity, [TOPIC])));
    try {
      await client.join();
      const subscribed = await client.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: snapshot.watermark } });
      expect(subscribed[4].status === 'ok' ? 'ok' : JSON.stringify(subscribed[4])).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 300));
      writing = false;
      await writers;

      const head = await eventually(
        async () => {
          const checkpointed = runners.every((runner) => runner.state === 'live');
          // One statement, one snapshot: the head and the summaries it covers agree.
          const { rows } = await db.query<{ head: string; current: string }>(
            `SELECT (SELECT head_watermark FROM khala.topic_sequences WHERE topic = $3 AND org_id = $1) AS head,
                    (SELECT count(*) FROM runtime.run_summaries s JOIN eventstore.streams st ON st.stream_id = $2 || s.run_id
                      WHERE s.org_id = $1 AND s.doc_version = st.revision + 1) AS current`,
            [identity.orgId, `${categories.run}-`, TOPIC],
          );
          return checkpointed && rows[0].current === String(runs.length) ? Number(rows[0].head) : -1;
        },
        (value) => value > 0,
        'the projector to drain',
      );
      await client.waitFor(
        (frame) => frame[3] === 'sync:update_batch' && (frame[4].updates as { watermark: number }[]).some((update) => update.watermark === head),
        20_000,
      );

      // The client: snapshot documents, then updates applied idempotently by watermark.
      const state = new Map(snapshot.documents.map((doc) => [doc.doc_key, { doc_version: doc.doc_version, payload_hash: doc.payload_hash, payload: doc.payload }]));
      let applied = snapshot.watermark;
      const updates = client.updates(TOPIC) as { doc_key: string; doc_version: number; payload: Record<string, unknown>; payload_hash: string; watermark: number }[];
      for (const update of updates) {
        if (update.watermark <= applied) continue;
        expect(update.watermark).toBe(applied + 1); // gap-free after the snapshot's watermark
        applied = update.watermark;
        state.set(update.doc_key, { doc_version: update.doc_version, payload_hash: update.payload_hash, payload: update.payload });
      }
      expect(applied).toBe(head);
      // Writes did land after the pinned watermark (the case this test is about).
      expect(head).toBeGreaterThan(snapshot.watermark);

      const fresh = await fullSnapshot(identity, 5);
      expect(fresh.watermark).toBe(head);
      expect(fresh.documents).toHaveLength(runs.length);
      const expected = new Map(fresh.documents.map((doc) => [doc.doc_key, { doc_version: doc.doc_version, payload_hash: doc.payload_hash, payload: doc.payload }]));
      expect(Object.fromEntries([...state].sort(([a], [b]) => (a < b ? -1 : 1)))).toEqual(Object.fromEntries([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
    } finally {
      writing = false;
      await writers;
      await client.close();
    }
  });

  it('refuses what it must: no token, a topic outside the scopes, a topic without snapshots, a tampered or foreign page token', async () => {
    const identity = freshIdentity();
    const unauthenticated = await fetch(`${gateway.url}/api/sync/snapshot?topic=${TOPIC}`);
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: 'missing_token' });
    expect(await get(identity, `topic=${TOPIC}`, ['runtime.run_events'])).toMatchObject({ status: 403, body: { code: 'forbidden_topic' } });
    expect(await get(identity, 'topic=runtime.run_events', ['runtime.run_events'])).toMatchObject({ status: 400, body: { code: 'snapshot_not_available' } });
    expect(await get(identity, 'topic=nope')).toMatchObject({ status: 400, body: { code: 'bad_topic' } });
    expect(await get(identity, `topic=${TOPIC}&page_size=0`)).toMatchObject({ status: 400, body: { code: 'validation_failed' } });

    const owner = freshIdentity();
    const runs = Array.from({ length: 3 }, () => ({ id: `run_${randomUUID().slice(0, 8)}`, revision: 'no_stream' as bigint | 'no_stream' }));
    await appendFrames(owner.orgId, runs, 1);
    await eventually(() => get(owner, `topic=${TOPIC}&page_size=1`), (r) => (r.body as unknown as SnapshotBody).next_page_token !== null, 'a second page');
    const first = (await get(owner, `topic=${TOPIC}&page_size=1`)).body as unknown as SnapshotBody;
    const token = first.next_page_token!;
    // Another org cannot continue this snapshot, and the watermark cannot be edited.
    expect(await get(identity, `topic=${TOPIC}&page_token=${encodeURIComponent(token)}`)).toMatchObject({ status: 400, body: { code: 'invalid_page_token' } });
    const [body, signature] = token.split('.');
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), w: 0 })).toString('base64url');
    expect(await get(owner, `topic=${TOPIC}&page_token=${edited}.${signature}`)).toMatchObject({ status: 400, body: { code: 'invalid_page_token' } });
    expect(await get(owner, `topic=${TOPIC}&page_token=${encodeURIComponent(token)}`)).toMatchObject({ status: 200 });
  });
});
