import { randomUUID } from 'node:crypto';
import { NewEvent } from '@khala/eventstore';
import { FailurePolicy, listFailures, markSkipped, Projection, ProjectorRunner } from '@khala/projections';
import { ControlProjection } from '../../apps/control/src/projections/control.projection';
import { freshIdentity } from '../support/system';
import {
  Categories,
  event,
  eventually,
  isolatedCategories,
  isolatedProjections,
  journalOf,
  runCreated,
  runFrame,
  runnersFor,
  silentLogger,
} from './support/projection-fixtures';
import { useStoreOnTestDatabase } from '../support/store-on-test-database';

/**
 * Events hand-inserted into the store past the command path's contract check (as an operator's
 * script, an old writer or a bug might): each must be refused before any fold, follow the
 * projection's failure policy, and never reach a read model or the journal.
 */
const POISONS: { kind: string; reason: RegExp; make(runId: string, orgId: string): NewEvent }[] = [
  {
    kind: 'a RunTextDelta with a frame id that is an object and a field the contract lacks',
    reason: /frame_id: string expected|unknown field/,
    make: (runId, orgId) =>
      event('RunTextDelta', {
        run_id: runId,
        org_id: orgId,
        actor_user_id: 'user_test',
        occurred_at: new Date().toISOString(),
        frame_id: { a: 1 },
        payload: { text: 'garbage' },
        colour: 'red',
      }),
  },
  {
    kind: 'a well-formed RunTextDelta of schema_version 99 (a future writer)',
    reason: /schema_version 99/,
    make: (runId, orgId) => {
      const future = runFrame(runId, orgId, 'RunTextDelta', { text: 'from the future' });
      return { ...future, metadata: { ...future.metadata, schema_version: 99 } };
    },
  },
  {
    kind: 'an event type the registry does not know',
    reason: /unknown event type RunTeleported/,
    make: (runId, orgId) =>
      event('RunTeleported', { run_id: runId, org_id: orgId, actor_user_id: 'user_test', occurred_at: new Date().toISOString() }),
  },
];

interface Observed {
  states: string[];
  summary?: { status: string; frame_count: number };
  seqs: number[];
}

describe('unreadable events (contract check before the fold)', () => {
  const the = useStoreOnTestDatabase({ connections: 6, pollIntervalMs: 50 });

  /** A run whose third event is the poison: created, started, POISON, text delta, finished. */
  async function appendRunWithPoison(categories: Categories, make: (runId: string, orgId: string) => NewEvent) {
    const { orgId } = freshIdentity();
    const runId = `run_${randomUUID().slice(0, 8)}`;
    const poison = make(runId, orgId);
    const events = [
      runCreated(runId, orgId),
      runFrame(runId, orgId, 'RunStarted'),
      poison,
      runFrame(runId, orgId, 'RunTextDelta', { text: 'after the poison' }),
      runFrame(runId, orgId, 'RunFinished'),
    ];
    await the.store.append(categories.runStream(runId), events, { expectedRevision: 'no_stream' });
    return { orgId, runId, poison };
  }

  async function observe(runners: ProjectorRunner[], orgId: string, runId: string): Promise<Observed> {
    // States first: a runner that has halted has committed what it projected before the poison,
    // so the reads below see it (read after them, a halt could pair with reads from before a commit).
    const states = runners.map((runner) => runner.state);
    const summary = await the.db.query<{ document: { status: string; frame_count: number } }>(
      'SELECT document FROM runtime.run_summaries WHERE org_id = $1 AND run_id = $2',
      [orgId, runId],
    );
    const events = await the.db.query<{ seq: string }>('SELECT seq FROM runtime.run_events WHERE org_id = $1 AND run_id = $2 ORDER BY seq', [orgId, runId]);
    return {
      states,
      summary: summary.rows[0]?.document,
      seqs: events.rows.map((row) => Number(row.seq)),
    };
  }

  /** Nothing of the poison (seq 3) in the read models or on any journal topic. */
  async function expectNoTraceOf(orgId: string, runId: string, poisonId: string): Promise<void> {
    for (const topic of ['runtime.run_events', `run:${runId}:events`]) {
      const rows = await journalOf(the.db, topic, orgId);
      expect(rows.map((row) => row.doc_key)).not.toContain(`run_event:${runId}:3`);
      expect(rows.filter((row) => row.payload?.includes(poisonId))).toEqual([]);
    }
    const { rows } = await the.db.query<{ document: unknown }>('SELECT document FROM runtime.run_events WHERE org_id = $1 AND run_id = $2', [orgId, runId]);
    expect(JSON.stringify(rows)).not.toContain(poisonId);
  }

  const runnersOf = (categories: Categories, failurePolicy: FailurePolicy) =>
    runnersFor(the.store, the.db, isolatedProjections(categories, { failurePolicy }).slice(0, 2), { retryBaseMs: 1 }); // run summaries, run events

  describe.each(POISONS)('$kind', ({ reason, make }) => {
    it("halts a 'stop' projection at the event, parked with the reason, and an operator's skip moves past it without folding it", async () => {
      const categories = isolatedCategories();
      const { orgId, runId, poison } = await appendRunWithPoison(categories, make);
      const runners = runnersOf(categories, 'stop');
      for (const runner of runners) runner.start();
      try {
        // Either both halt, or (the bug) the run's last event reaches the summary.
        const halted = await eventually(
          () => observe(runners, orgId, runId),
          (seen) => seen.states.every((state) => state === 'failed') || seen.summary?.status === 'succeeded',
          'both runners to halt on the poison',
        );
        expect(halted.states).toEqual(['failed', 'failed']);
        expect(halted.summary).toMatchObject({ status: 'running', frame_count: 1 });
        expect(halted.seqs).toEqual([1, 2]);
        for (const runner of runners) {
          expect(runner.status().lastError).toContain(poison.id);
          expect(runner.status().lastError).toMatch(reason);
          const parked = await listFailures(the.db, runner.projection.name);
          expect(parked).toMatchObject([{ event_id: poison.id, revision: 2, event_type: poison.type, status: 'parked' }]);
          expect(parked[0].error).toMatch(reason);
        }
        await expectNoTraceOf(orgId, runId, poison.id);
      } finally {
        await Promise.all(runners.map((runner) => runner.stop()));
      }

      for (const runner of runners) expect(await markSkipped(the.db, runner.projection.name, poison.id)).toBe(true);
      const resumed = runnersOf(categories, 'stop');
      for (const runner of resumed) runner.start();
      try {
        const done = await eventually(
          () => observe(resumed, orgId, runId),
          (seen) => seen.summary?.status === 'succeeded' && seen.seqs.length === 4,
          'the events after the skipped one',
        );
        expect(done.summary).toMatchObject({ status: 'succeeded', frame_count: 3 });
        expect(done.seqs).toEqual([1, 2, 4, 5]);
        await expectNoTraceOf(orgId, runId, poison.id);
      } finally {
        await Promise.all(resumed.map((runner) => runner.stop()));
      }
    });

    it("parks it in a 'continue' projection, which projects the events after it", async () => {
      const categories = isolatedCategories();
      const { orgId, runId, poison } = await appendRunWithPoison(categories, make);
      const runners = runnersOf(categories, 'continue');
      for (const runner of runners) runner.start();
      try {
        const done = await eventually(
          () => observe(runners, orgId, runId),
          (seen) => seen.summary?.status === 'succeeded' && seen.seqs.length >= 4 && seen.states.every((state) => state === 'live'),
          'the events after the poison',
        );
        expect(done.summary).toMatchObject({ status: 'succeeded', frame_count: 3 });
        expect(done.seqs).toEqual([1, 2, 4, 5]);
        expect(done.states).toEqual(['live', 'live']);
        for (const runner of runners) {
          const parked = await listFailures(the.db, runner.projection.name);
          expect(parked).toMatchObject([{ event_id: poison.id, revision: 2, event_type: poison.type, status: 'parked' }]);
          expect(parked[0].error).toMatch(reason);
        }
        await expectNoTraceOf(orgId, runId, poison.id);
      } finally {
        await Promise.all(runners.map((runner) => runner.stop()));
      }
    });
  });
  describe("control's projection (same runner, same contract check)", () => {
    it('halts on a UserSignedUp whose email is a number: the users before it are projected, it and those after are not', async () => {
      const tag = randomUUID().replace(/-/g, '').slice(0, 10);
      const control = new ControlProjection();
      // Control's fold under a test name, over a category of its own; policy as in production ('stop').
      const projection: Projection = {
        name: `t_${tag}_control`,
        version: control.version,
        filter: { streamPrefixes: [`tuser${tag}-`] },
        project: (tx, events) => control.project(tx, events),
      };
      const signedUp = (userId: string, email: unknown) =>
        event('UserSignedUp', { user_id: userId, org_id: `org_${tag}`, actor_user_id: userId, occurred_at: new Date().toISOString(), email, name: userId });
      const [before, poisoned, after] = ['before', 'poisoned', 'after'].map((name) => `user_${name}_${tag}`);
      const poison = signedUp(poisoned, 42);
      for (const [userId, signup] of [[before, signedUp(before, 'a@example.com')], [poisoned, poison], [after, signedUp(after, 'c@example.com')]] as const) {
        await the.store.append(`tuser${tag}-${userId}`, [signup], { expectedRevision: 'no_stream' });
      }
      const runner = new ProjectorRunner(the.store, the.db, projection, silentLogger, { checkpointTable: 'control.projection_checkpoints', statsEveryMs: 0, retryBaseMs: 1 });
      runner.start();
      try {
        await eventually(() => Promise.resolve(runner.state), (state) => state === 'failed' || state === 'live', 'the control runner to halt');
        expect(runner.state).toBe('failed');
        const users = await the.db.query<{ user_id: string; email: string }>('SELECT user_id, email FROM control.users WHERE user_id = ANY($1) ORDER BY user_id', [[before, poisoned, after]]);
        expect(users.rows).toEqual([{ user_id: before, email: 'a@example.com' }]);
        const parked = await listFailures(the.db, projection.name, 'parked', 'control.projection_failures');
        expect(parked).toMatchObject([{ event_id: poison.id, event_type: 'UserSignedUp', status: 'parked', attempts: 1 }]);
        expect(parked[0].error).toMatch(/email: string expected/);
      } finally {
        await runner.stop();
      }
    });
  });
});
