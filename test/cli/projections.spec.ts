import { randomUUID } from 'node:crypto';
import { listFailures, Projection, ProjectorRunner, readAsStored } from '@khala/projections';
import { RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { isPgliteRun } from '../support/test-database';
import {
  event,
  eventually,
  isolatedCategories,
  runCreated,
  runFrame,
  silentLogger,
} from '../projections/support/projection-fixtures';
import { oa, oaJson } from './support/oa';
import { useStoreOnTestDatabase } from '../support/store-on-test-database';

describe('oa projections (operators)', () => {
  const the = useStoreOnTestDatabase({ connections: 4, pollIntervalMs: 20 });

  function recordingProjection(
    name: string,
    prefix: string,
    applied: string[],
    policy: 'stop' | 'continue' = 'stop',
  ): Projection {
    return {
      name,
      version: 1,
      filter: { streamPrefixes: [`${prefix}-`] },
      failurePolicy: policy,
      readEvent: readAsStored, // made-up event types: these tests are about the operator commands
      async project(_tx: Queryable, events: readonly RecordedEvent[]) {
        if (events.some((e) => e.type === 'Unprojectable')) throw new Error('cannot apply Unprojectable');
        applied.push(...events.map((e) => e.type));
      },
    };
  }

  it('list shows every catalog projection; status --json reports checkpoint, lag, leader and parked; unknown names exit 1', async () => {
    const list = await oaJson<{ projection: string; app: string }[]>(['projections', 'list']);
    expect(list.code).toBe(0);
    expect(list.body.map((row) => row.projection)).toEqual(
      expect.arrayContaining([
        'run_summaries',
        'run_events',
        'codex_worker_summaries',
        'codex_worker_events',
        'control',
      ]),
    );
    const status = await oaJson<Record<string, unknown>[]>(['projections', 'status', 'run_summaries']);
    expect([0, 2]).toContain(status.code);
    expect(status.body).toEqual([
      expect.objectContaining({
        projection: 'run_summaries',
        app: 'runtime',
        known: true,
        lag_events: expect.any(Number),
        paused: false,
        parked: expect.any(Number),
      }),
    ]);
    // Leader comes from pg_locks on Postgres; PGlite's lease is in-process and not observable.
    // (rebuild.e2e-spec.ts proves it true while a runner holds the lease.)
    if (isPgliteRun()) expect(status.body[0].leader).toBeNull();
    else expect(typeof status.body[0].leader).toBe('boolean');
    const unknown = await oa(['projections', 'status', 'no_such_projection']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown projection "no_such_projection"');
  });

  it('pause stops a running projector from committing (durably); resume lets it continue; status exits 2 while paused', async () => {
    const categories = isolatedCategories();
    const applied: string[] = [];
    const projection = recordingProjection(`t_${categories.tag}_pausable`, categories.run, applied);
    const runner = new ProjectorRunner(the.store, the.db, projection, silentLogger, {
      statsEveryMs: 0,
      leaseRetryMs: 50,
    });
    runner.start();
    try {
      await the.store.append(categories.runStream('a'), [event('First', {})], { expectedRevision: 'no_stream' });
      await eventually(
        () => Promise.resolve(applied.length),
        (n) => n === 1,
        'the first event is applied',
      );

      const paused = await oaJson(['projections', 'pause', projection.name, '--reason', 'maintenance']);
      expect(paused).toMatchObject({ code: 0, body: { projection: projection.name, paused: true } });
      await the.store.append(categories.runStream('a'), [event('Second', {})], { expectedRevision: 0n });
      await eventually(
        () => Promise.resolve(runner.state),
        (state) => state === 'paused',
        'the runner reports paused',
      );
      const status = await oaJson<{ paused: boolean; known: boolean }[]>([
        'projections',
        'status',
        projection.name,
      ]);
      expect(status.code).toBe(2);
      expect(status.body).toMatchObject([{ paused: true, known: false }]);
      // A batch may have been attempted, but nothing committed while paused.
      expect(applied.filter((type) => type === 'Second').length).toBeLessThanOrEqual(1);
      const committedWhilePaused = await the.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM runtime.projection_checkpoints c WHERE projection = $1`,
        [projection.name],
      );
      expect(Number(committedWhilePaused.rows[0].n)).toBe(1);
      const before = await checkpointOf(projection.name);

      expect(await oaJson(['projections', 'resume', projection.name])).toMatchObject({
        code: 0,
        body: { paused: false },
      });
      await eventually(
        () => checkpointOf(projection.name),
        (after) => after !== before,
        'the checkpoint moves after resume',
      );
      expect(runner.state).not.toBe('paused');
    } finally {
      await runner.stop();
    }
  });

  it("failures lists a parked event; skip lets a halted 'stop' projection continue without a restart; retry re-attempts it", async () => {
    const categories = isolatedCategories();
    const applied: string[] = [];
    let poisonFixed = false;
    const projection: Projection = {
      ...recordingProjection(`t_${categories.tag}_strict`, categories.run, applied),
      async project(_tx: Queryable, events: readonly RecordedEvent[]) {
        if (!poisonFixed && events.some((e) => e.type === 'Unprojectable'))
          throw new Error('cannot apply Unprojectable');
        applied.push(...events.map((e) => e.type));
      },
    };
    const runner = new ProjectorRunner(the.store, the.db, projection, silentLogger, {
      statsEveryMs: 0,
      leaseRetryMs: 50,
      retryBaseMs: 1,
    });
    const firstPoison = event('Unprojectable', {});
    const secondPoison = event('Unprojectable', {});
    await the.store.append(
      categories.runStream('s'),
      [event('First', {}), firstPoison, event('Middle', {}), secondPoison, event('Last', {})],
      { expectedRevision: 'no_stream' },
    );
    runner.start();
    try {
      await eventually(
        () => Promise.resolve(runner.state),
        (state) => state === 'failed',
        'the runner halts on the poison event',
      );
      const failures = await oaJson<{ event_id: string; status: string; app: string }[]>([
        'projections',
        'failures',
        projection.name,
      ]);
      // A parked failure needs an operator: exit 2, as status exits 2 for the same projection.
      expect(failures).toMatchObject({
        code: 2,
        body: [{ event_id: firstPoison.id, status: 'parked', app: 'runtime' }],
      });

      expect(await oaJson(['projections', 'skip', projection.name, firstPoison.id])).toMatchObject({
        code: 0,
        body: { status: 'skipped' },
      });
      // The same runner, still alive, moves past the skipped event and halts on the next one.
      await eventually(
        () => listFailures(the.db, projection.name),
        (list) => list.some((f) => f.event_id === secondPoison.id),
        'halts on the second poison',
      );
      expect(applied).toEqual(['First', 'Middle']);

      poisonFixed = true; // the operator deployed a fix; retry re-attempts the event
      expect(await oaJson(['projections', 'retry', projection.name, secondPoison.id])).toMatchObject({
        code: 0,
        body: { status: 'retried' },
      });
      await eventually(
        () => Promise.resolve(applied),
        (list) => list.includes('Last'),
        'the retried event and the rest are applied',
      );
      expect(applied).toEqual(['First', 'Middle', 'Unprojectable', 'Last']);
      // Nothing parked any more: exit 0, whatever else it lists (here the retried and the skipped event).
      const history = await oaJson<{ status: string }[]>(['projections', 'failures', projection.name, '--status', 'all']);
      expect(history.code).toBe(0);
      expect(history.body.map((row) => row.status).sort()).toEqual(['retried', 'skipped']);
      const again = await oa(['projections', 'skip', projection.name, secondPoison.id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`no parked failure ${secondPoison.id}`);
    } finally {
      await runner.stop();
    }
  }, 120_000); // five oa processes, each compiling the CLI as it starts: slow on a loaded machine

  it('state folds a stream with its decider, at a revision; unknown categories exit 1', async () => {
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const org = `org_${randomUUID().slice(0, 8)}`;
    await the.store.append(`run-${runId}`, [runCreated(runId, org), runFrame(runId, org, 'RunStarted')], {
      expectedRevision: 'no_stream',
    });
    const at0 = await oaJson<{ revision: string; state: Record<string, unknown> }>([
      'state',
      `run-${runId}`,
      '--at-revision',
      '0',
    ]);
    const latest = await oaJson<{ revision: string; state: Record<string, unknown> }>([
      'state',
      `run-${runId}`,
    ]);
    expect(at0.code).toBe(0);
    expect(at0.body.revision).toBe('0');
    expect(latest.body.revision).toBe('1');
    expect(at0.body.state).not.toEqual(latest.body.state);
    expect((await oa(['state', 'nocategory'])).code).toBe(1);
    expect((await oa(['state', `run-missing-${randomUUID()}`])).code).toBe(1);
  });

  async function checkpointOf(name: string): Promise<string> {
    const { rows } = await the.db.query<{ p: string }>(
      `SELECT commit_position || '/' || prepare_position AS p FROM runtime.projection_checkpoints WHERE projection = $1`,
      [name],
    );
    return rows[0]?.p ?? '';
  }
});
