import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { ProjectorRunner, RunSummariesProjection } from '@khala/projections';
import { RawPhoenixClient } from '../support/phoenix-client';
import { connectTestDatabase, isPgliteRun, usePrivateDatabase } from '../support/test-database';
import { freshIdentity } from '../support/system';
import { socketUrl, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import { eventually, runCreated, runFrame, silentLogger } from '../projections/support/projection-fixtures';
import { oaJson } from './support/oa';

const TOPIC = 'runtime.run_summaries';

/**
 * `oa projections rebuild run_summaries` against the real projection and table, with the live
 * projector consuming and a subscriber connected throughout. A rebuild swaps the whole read-model
 * table (documents the rebuilt projection does not produce are removed), so this file runs on a
 * database of its own rather than beside other files' projections in the shared one.
 */
describe('oa projections rebuild (blue/green, live)', () => {
  let db: Database;
  let store: PostgresEventStore;
  let gateway: TestGateway;
  let runner: ProjectorRunner;
  const light = isPgliteRun();
  let privateDatabase: { release(): Promise<void> };

  beforeAll(async () => {
    privateDatabase = await usePrivateDatabase();
    db = await connectTestDatabase({ max: light ? 1 : 8 });
    store = new PostgresEventStore(db, { pollIntervalMs: 20 });
    gateway = await startGateway();
    runner = new ProjectorRunner(store, db, new RunSummariesProjection(), silentLogger, {
      statsEveryMs: 0,
      leaseRetryMs: 50,
      liveBatchSize: 5,
    });
    runner.start();
  });
  afterAll(async () => {
    await runner.stop();
    await gateway.stop();
    await db.close();
    await privateDatabase.release();
  });

  async function caughtUp(): Promise<void> {
    await eventually(
      async () => {
        const head = await store.headPosition();
        const { rows } = await db.query<{ c: string; p: string }>(
          `SELECT commit_position AS c, prepare_position AS p FROM runtime.projection_checkpoints WHERE projection = 'run_summaries'`,
        );
        return head && rows[0]
          ? BigInt(rows[0].c) >= head.commit && BigInt(rows[0].p) >= head.prepare
          : false;
      },
      (ok) => ok,
      'the live projector caught up',
    );
  }

  async function createRuns(orgId: string, count: number): Promise<{ id: string; revision: bigint }[]> {
    const runs = [];
    for (let i = 0; i < count; i++) {
      const id = `run_${randomUUID().slice(0, 8)}`;
      const { nextExpectedRevision } = await store.append(
        `run-${id}`,
        [runCreated(id, orgId), runFrame(id, orgId, 'RunStarted')],
        { expectedRevision: 'no_stream' },
      );
      runs.push({ id, revision: nextExpectedRevision });
    }
    return runs;
  }

  /** Live write load until stopped: text deltas on the given runs, round-robin. */
  function writeLoad(orgId: string, runs: { id: string; revision: bigint }[]): { stop(): Promise<number> } {
    let stopping = false;
    let written = 0;
    const loop = (async () => {
      for (let i = 0; !stopping; i++) {
        const run = runs[i % runs.length];
        const result = await store.append(`run-${run.id}`, [runFrame(run.id, orgId, 'RunTextDelta', { i })], {
          expectedRevision: run.revision,
        });
        run.revision = result.nextExpectedRevision;
        written += 1;
        await new Promise((resolve) => setTimeout(resolve, light ? 40 : 5));
      }
    })();
    return {
      async stop() {
        stopping = true;
        await loop;
        return written;
      },
    };
  }

  async function subscriber(identity: ReturnType<typeof freshIdentity>): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(
      socketUrl(gateway, await syncToken(gateway.keys, identity, [TOPIC])),
    );
    expect(await client.join()).toMatchObject({ status: 'ok' });
    expect((await client.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: 0 } }))[4]).toMatchObject({
      status: 'ok',
    });
    return client;
  }

  async function headOf(orgId: string): Promise<number> {
    const { rows } = await db.query<{ h: string }>(
      'SELECT head_watermark AS h FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2',
      [TOPIC, orgId],
    );
    return Number(rows[0]?.h ?? 0);
  }

  /** The org's read model as a from-scratch projection into a scratch schema sees it. */
  async function scratchEqualsLive(orgId: string): Promise<void> {
    const schema = `scratch_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    const replay = await oaJson<{ events_applied: number }>([
      'replay',
      '--projection',
      'run_summaries',
      '--into',
      schema,
    ]);
    expect(replay.code).toBe(0);
    const select = (table: string) =>
      db
        .query(
          `SELECT run_id, document, doc_version::text, payload_hash FROM ${table} WHERE org_id = $1 ORDER BY run_id`,
          [orgId],
        )
        .then((r) => r.rows);
    try {
      const live = await select('runtime.run_summaries');
      expect(live.length).toBeGreaterThan(0);
      expect(live).toEqual(await select(`${schema}.run_summaries`));
    } finally {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  }

  it('under live writes: subscribers see no gap, no duplicate, no reset; only changed documents are journaled; the result equals a from-scratch projection', async () => {
    const identity = freshIdentity();
    const runs = await createRuns(identity.orgId, light ? 6 : 20);
    await caughtUp();
    // A projection bug left three documents wrong; those runs receive no more writes.
    const corrupted = runs.slice(0, 3).map((run) => run.id);
    await db.query(
      `UPDATE runtime.run_summaries SET document = jsonb_set(document, '{status}', '"bogus"'), payload_hash = 'sha256:bogus' WHERE run_id = ANY($1::text[])`,
      [corrupted],
    );
    const status = await oaJson<{ leader: boolean | null; lag_events: number }[]>(['projections', 'status', 'run_summaries']);
    // The lease this file's runner holds is visible in pg_locks from the CLI's process.
    expect(status.body[0].leader).toBe(isPgliteRun() ? null : true);
    const client = await subscriber(identity);
    const headBefore = await headOf(identity.orgId);
    await client.waitForUpdates(TOPIC, headBefore, 30_000);

    const load = writeLoad(identity.orgId, runs.slice(3));
    const rebuild = await oaJson<{ status: string; changed_documents: number; journal_rows: number }>([
      'projections',
      'rebuild',
      'run_summaries',
      '--batch-size',
      light ? '20' : '50',
    ]);
    const written = await load.stop();
    expect(rebuild.code).toBe(0);
    expect(rebuild.body.status).toBe('swapped');
    expect(written).toBeGreaterThan(0);
    // Events appended while it ran were rebuilt too: the total grew with them, never below done.
    const progress = rebuild.stderr
      .split('\n')
      .filter((line) => line.startsWith('{"progress"'))
      .map((line) => JSON.parse(line) as { done: number; total: number; finished: boolean });
    for (const line of progress) expect(line.done).toBeLessThanOrEqual(line.total);
    expect(progress[progress.length - 1]).toMatchObject({ finished: true, total: progress[progress.length - 1].done });
    await caughtUp();

    const head = await headOf(identity.orgId);
    const updates = await client.waitForUpdates(TOPIC, head, 30_000);
    // Every watermark exactly once, in order, continuing from where the client was: no gap, no duplicate, no reset.
    expect(updates.map((u) => u.watermark)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(client.frames.filter((frame) => JSON.stringify(frame[4]).includes('stale_cursor'))).toEqual([]);
    // The corrupted documents were journaled once each with their correct content, after the rebuild started.
    const repaired = updates.filter(
      (u) => Number(u.watermark) > headBefore && corrupted.some((id) => u.doc_key === `run_summary:${id}`),
    );
    expect(repaired.map((u) => u.doc_key).sort()).toEqual(corrupted.map((id) => `run_summary:${id}`).sort());
    expect(rebuild.body.changed_documents).toBeGreaterThanOrEqual(3);
    const stored = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM runtime.run_summaries WHERE run_id = ANY($1::text[]) AND payload_hash = 'sha256:bogus'`,
      [corrupted],
    );
    expect(stored.rows[0].n).toBe('0');
    await scratchEqualsLive(identity.orgId);
    await client.close();
  });

  it('an interrupted rebuild resumes from its shadow checkpoint and swaps', async () => {
    const identity = freshIdentity();
    await createRuns(identity.orgId, 4);
    await caughtUp();
    const first = await oaJson<{ status: string; checkpoint: string | null }>([
      'projections',
      'rebuild',
      'run_summaries',
      '--batch-size',
      '3',
      '--stop-after-batches',
      '2',
    ]);
    expect(first.code).toBe(3);
    expect(first.body).toMatchObject({ status: 'interrupted', checkpoint: expect.any(String) });
    const shadow = await db.query<{ status: string; events_applied: string }>(
      `SELECT status, events_applied FROM runtime.projection_rebuilds WHERE projection = 'run_summaries'`,
    );
    expect(shadow.rows[0]).toEqual({ status: 'building', events_applied: '6' });

    const second = await oaJson<{ status: string; resumed: boolean; events_applied: number }>([
      'projections',
      'rebuild',
      'run_summaries',
    ]);
    expect(second.code).toBe(0);
    expect(second.body).toMatchObject({ status: 'swapped', resumed: true });
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM eventstore.events WHERE category = 'run'`,
    );
    expect(second.body.events_applied).toBe(Number(rows[0].n));
    expect(
      (await db.query(`SELECT to_regclass('khala_rebuild.run_summaries__rebuild') AS t`)).rows[0].t,
    ).toBeNull();
    await scratchEqualsLive(identity.orgId);
  });

  it('--stream rebuilds one entity: one journal row for its changed document, nothing for the others', async () => {
    const identity = freshIdentity();
    const [target, other] = await createRuns(identity.orgId, 2);
    await caughtUp();
    await db.query(
      `UPDATE runtime.run_summaries SET document = jsonb_set(document, '{status}', '"bogus"'), payload_hash = 'sha256:bogus' WHERE run_id = ANY($1::text[])`,
      [[target.id, other.id]],
    );
    const headBefore = await headOf(identity.orgId);
    const result = await oaJson<{ changed_documents: number; journal_rows: number }>([
      'projections',
      'rebuild',
      'run_summaries',
      '--stream',
      `run-${target.id}`,
    ]);
    expect(result).toMatchObject({ code: 0, body: { changed_documents: 1, journal_rows: 1 } });
    expect(await headOf(identity.orgId)).toBe(headBefore + 1);
    const { rows } = await db.query<{ run_id: string; payload_hash: string }>(
      'SELECT run_id, payload_hash FROM runtime.run_summaries WHERE run_id = ANY($1::text[]) ORDER BY run_id',
      [[target.id, other.id]],
    );
    expect(rows.find((row) => row.run_id === target.id)!.payload_hash).not.toBe('sha256:bogus');
    expect(rows.find((row) => row.run_id === other.id)!.payload_hash).toBe('sha256:bogus');
    // Leave the shared table healthy for later tests.
    expect(
      (await oaJson(['projections', 'rebuild', 'run_summaries', '--stream', `run-${other.id}`])).code,
    ).toBe(0);
  });

  it('--reset moves the retention floor past the head: a subscriber at the head gets stale_cursor', async () => {
    const identity = freshIdentity();
    await createRuns(identity.orgId, 2);
    await caughtUp();
    const head = await headOf(identity.orgId);
    const reset = await oaJson<{ status: string; reset_topics: number }>([
      'projections',
      'rebuild',
      'run_summaries',
      '--reset',
    ]);
    expect(reset).toMatchObject({ code: 0, body: { status: 'swapped' } });
    expect(reset.body.reset_topics).toBeGreaterThanOrEqual(1);
    const { rows } = await db.query<{ r: string }>(
      'SELECT retained_from AS r FROM khala.topic_sequences WHERE topic = $1 AND org_id = $2',
      [TOPIC, identity.orgId],
    );
    expect(Number(rows[0].r)).toBe(head + 2);
    const client = await RawPhoenixClient.connect(
      socketUrl(gateway, await syncToken(gateway.keys, identity, [TOPIC])),
    );
    await client.join();
    const reply = await client.request('sync:v1', 'sync:subscribe', {
      topics: [TOPIC],
      resume_after: { [TOPIC]: head },
    });
    expect(JSON.stringify(reply[4])).toContain('stale');
    await client.close();
  });
});
