import { randomUUID } from 'node:crypto';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { TOPIC_CLASSES, resolveTopic } from '@khala/contracts';
import { call, logIn, Reply, signUp, SignedUp } from '../control/control-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { startTestSystem } from '../support/system';
import { testDatabaseUrl } from '../support/test-database';
import { routesOfApps } from './support/routes';

/**
 * A signed-in principal of org B attacks org A on every route of control, runtime and the gateway,
 * and on every WS topic family. Each attempt at one of A's resources must get exactly the response
 * a nonexistent id gets (status, code and message, with the id itself masked), and no response or
 * frame may carry any of A's data. The route list comes from Nest's route metadata, so a route
 * added without a case here fails the first test.
 */
describe('cross-tenant isolation', () => {
  let system: RunningSystem;
  let a: SignedUp;
  let b: SignedUp;
  const secret = `SECRET-A-${randomUUID()}`;
  const victim = { runId: '', workerId: `w-${randomUUID().slice(0, 8)}`, otherWorkerId: `w-${randomUUID().slice(0, 8)}`, apiTokenId: '', idempotentRunId: '', idempotencyKey: `idem-${randomUUID()}` };
  const replies: Reply[] = [];

  const as = async (who: SignedUp, app: 'control' | 'runtime' | 'gateway', method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const reply = await call(system.urls[app], method, path, { token: who.access_token, body, headers });
    if (who === b) replies.push(reply);
    return reply;
  };

  /** status + body without correlation id, with the probed id masked (messages may echo the input). */
  const normalised = (reply: Reply, id: string) => {
    const { correlation_id: _ignored, ...body } = reply.body as Record<string, unknown>;
    return { status: reply.status, body: JSON.parse(JSON.stringify(body).split(id).join('<id>')) as unknown };
  };

  /** B's attempt at A's id answers exactly like B's attempt at an id that exists nowhere. */
  async function indistinguishable(attempt: (id: string) => Promise<Reply>, victimId: string, expectedStatus: number[]): Promise<void> {
    const missingId = `${victimId.split(/[_-]/)[0]}_${randomUUID().replace(/-/g, '')}`;
    const atVictim = await attempt(victimId);
    const atMissing = await attempt(missingId);
    expect(expectedStatus).toContain(atVictim.status);
    expect(normalised(atVictim, victimId)).toEqual(normalised(atMissing, missingId));
  }

  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    system = await startTestSystem();
    a = await signUp(system.urls.control, { org_name: `Org A ${secret}` });
    b = await signUp(system.urls.control);
    const run = await as(a, 'runtime', 'POST', '/api/runtime/runs', { metadata: { secret } });
    victim.runId = run.body.run_id as string;
    // A run created with an Idempotency-Key and an empty body: B replays both below.
    victim.idempotentRunId = (await as(a, 'runtime', 'POST', '/api/runtime/runs', {}, { 'idempotency-key': victim.idempotencyKey })).body.run_id as string;
    await as(a, 'runtime', 'POST', `/api/runtime/runs/${victim.runId}/frames`, {
      frames: [{ frame_id: 'f1', type: 'run.started', payload: { secret } }, { frame_id: 'f2', type: 'run.text_delta', payload: { text: secret } }],
    });
    for (const id of [victim.workerId, victim.otherWorkerId]) {
      expect((await as(a, 'runtime', 'POST', '/api/runtime/codex/workers', { worker_id: id, workspace_ref: secret, adapter: 'codex' })).status).toBe(201);
      await as(a, 'runtime', 'POST', `/api/runtime/codex/workers/${id}/events`, { event: { event_type: 'worker.output', payload: { secret } } });
    }
    victim.apiTokenId = (await as(a, 'control', 'POST', '/api/tokens', { name: secret })).body.token_id as string;
    await until("A's read models", async () => {
      const runs = await as(a, 'runtime', 'GET', '/api/runtime/runs');
      const workers = await as(a, 'runtime', 'GET', '/api/runtime/codex/workers');
      return (runs.body.runs as unknown[]).length === 2 && (workers.body.workers as unknown[]).length === 2;
    });
  }, 90_000);
  afterAll(() => system?.stop());

  /** One attack per route; keys must equal the apps' routes. */
  const cases: Record<string, () => Promise<void>> = {
    // ---------------------------------------------------------------- runtime
    'runtime POST /api/runtime/runs': async () => {
      // A's idempotency key and body: B gets a run of its own, never A's stored response.
      const reply = await as(b, 'runtime', 'POST', '/api/runtime/runs', {}, { 'idempotency-key': victim.idempotencyKey });
      expect(reply.status).toBe(201);
      expect(reply.body.run_id).not.toBe(victim.idempotentRunId);
    },
    'runtime POST /api/runtime/runs/:run_id/frames': () =>
      indistinguishable((id) => as(b, 'runtime', 'POST', `/api/runtime/runs/${id}/frames`, { frames: [{ frame_id: 'x', type: 'run.finished', payload: {} }] }), victim.runId, [404]),
    'runtime POST /api/runtime/runs/:run_id/cancel': () =>
      indistinguishable((id) => as(b, 'runtime', 'POST', `/api/runtime/runs/${id}/cancel`, { reason: 'x' }), victim.runId, [404]),
    'runtime GET /api/runtime/runs': async () => {
      const list = await as(b, 'runtime', 'GET', '/api/runtime/runs?limit=200');
      expect(list.status).toBe(200);
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/runs?after=${id}`), victim.runId, [400]);
    },
    'runtime GET /api/runtime/runs/:run_id': async () => {
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/runs/${id}`), victim.runId, [404]);
      // Read-your-writes waits only for the caller's own runs: A's run is 404 at once, like a missing one.
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/runs/${id}?min_revision=1`), victim.runId, [404]);
    },
    'runtime GET /api/runtime/runs/:run_id/events': () =>
      indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/runs/${id}/events?after_seq=0`), victim.runId, [404]),
    'runtime POST /api/runtime/codex/workers': async () => {
      // Worker ids are per org: B choosing A's id starts B's own worker (no 409 that would reveal A's).
      const reply = await as(b, 'runtime', 'POST', '/api/runtime/codex/workers', { worker_id: victim.workerId, workspace_ref: 'b', adapter: 'codex' });
      expect(reply).toMatchObject({ status: 201, body: { worker_id: victim.workerId, status: 'starting' } });
      const mine = await as(b, 'runtime', 'GET', `/api/runtime/codex/workers/${victim.workerId}/snapshot`);
      expect(mine.body).toMatchObject({ org_id: b.org_id, workspace_ref: 'b' });
      const theirs = await as(a, 'runtime', 'GET', `/api/runtime/codex/workers/${victim.workerId}/snapshot`);
      expect(theirs.body).toMatchObject({ org_id: a.org_id, workspace_ref: secret, status: 'running' });
    },
    'runtime POST /api/runtime/codex/workers/:worker_id/events': () =>
      indistinguishable((id) => as(b, 'runtime', 'POST', `/api/runtime/codex/workers/${id}/events`, { event: { event_type: 'worker.output', payload: {} } }), victim.otherWorkerId, [404]),
    'runtime POST /api/runtime/codex/workers/:worker_id/heartbeat': () =>
      indistinguishable((id) => as(b, 'runtime', 'POST', `/api/runtime/codex/workers/${id}/heartbeat`, {}), victim.otherWorkerId, [404]),
    'runtime POST /api/runtime/codex/workers/:worker_id/stop': () =>
      indistinguishable((id) => as(b, 'runtime', 'POST', `/api/runtime/codex/workers/${id}/stop`, {}), victim.otherWorkerId, [404]),
    'runtime GET /api/runtime/codex/workers': async () => {
      expect((await as(b, 'runtime', 'GET', '/api/runtime/codex/workers?limit=200')).status).toBe(200);
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/codex/workers?after=${id}`), victim.otherWorkerId, [400]);
    },
    'runtime GET /api/runtime/codex/workers/:worker_id': async () => {
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/codex/workers/${id}`), victim.otherWorkerId, [404]);
      await indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/codex/workers/${id}?min_revision=1`), victim.otherWorkerId, [404]);
    },
    'runtime GET /api/runtime/codex/workers/:worker_id/snapshot': () =>
      indistinguishable((id) => as(b, 'runtime', 'GET', `/api/runtime/codex/workers/${id}/snapshot`), victim.otherWorkerId, [404]),
    // ---------------------------------------------------------------- control
    'control POST /api/auth/signup': async () => {
      // Same org name as A: a separate org. (email_taken for A's email is api.md's documented 409.)
      const reply = await call(system.urls.control, 'POST', '/api/auth/signup', {
        body: { email: `b2-${randomUUID().slice(0, 8)}@example.com`, password: 'correct horse battery', name: 'B2', org_name: `Org A ${secret}` },
      });
      expect(reply.status).toBe(201);
      expect(reply.body.org_id).not.toBe(a.org_id);
    },
    'control POST /api/auth/login': async () => {
      // B's own credentials cannot enter A's org; A's email with a wrong password says what an unknown email says.
      await indistinguishable((orgId) => logIn(system.urls.control, b.email, b.password, 'dev-b', orgId).then((r) => (replies.push(r), r)), a.org_id, [401, 403, 404]);
      const wrong = await logIn(system.urls.control, a.email, 'not the password', 'dev-x');
      const unknown = await logIn(system.urls.control, `nobody-${randomUUID().slice(0, 8)}@example.com`, 'not the password', 'dev-x');
      replies.push(wrong, unknown);
      expect(normalised(wrong, a.email)).toEqual(normalised(unknown, 'unused'));
    },
    'control GET /api/me': async () => {
      expect((await as(b, 'control', 'GET', '/api/me')).body).toMatchObject({ user_id: b.user_id, org_id: b.org_id });
    },
    'control POST /api/orgs/:org_id/members': () =>
      indistinguishable((id) => as(b, 'control', 'POST', `/api/orgs/${id}/members`, { email: b.email, role: 'owner' }), a.org_id, [403, 404]),
    'control POST /api/tokens': async () => {
      expect((await as(b, 'control', 'POST', '/api/tokens', { name: 'b' })).status).toBe(201);
    },
    'control GET /api/tokens': async () => {
      expect((await as(b, 'control', 'GET', '/api/tokens')).status).toBe(200);
    },
    'control POST /api/tokens/:token_id/revoke': async () => {
      await indistinguishable((id) => as(b, 'control', 'POST', `/api/tokens/${id}/revoke`, { reason: 'x' }), victim.apiTokenId, [403, 404]);
      const aTokens = await as(a, 'control', 'GET', '/api/tokens');
      expect(aTokens.body).toMatchObject({ tokens: [{ token_id: victim.apiTokenId, revoked_at: null }] });
    },
    'control POST /api/sync/token': async () => {
      await indistinguishable((id) => as(b, 'control', 'POST', '/api/sync/token', { device_id: id }), a.device_id, [400, 403, 422]);
      const reply = await as(b, 'control', 'POST', '/api/sync/token', {});
      expect(reply.body).toMatchObject({ data: { org_id: b.org_id, subject: b.user_id } });
    },
    'control POST /api/auth/sessions/revoke': async () => {
      await indistinguishable((id) => as(b, 'control', 'POST', '/api/auth/sessions/revoke', { session_ids: [id], reason: 'x' }), a.session_id, [404]);
      expect((await as(a, 'control', 'GET', '/api/me')).status).toBe(200);
    },
    'control GET /api/auth/sessions': async () => {
      expect((await as(b, 'control', 'GET', '/api/auth/sessions')).status).toBe(200);
    },
    // ---------------------------------------------------------------- gateway
    'gateway GET /api/sync/snapshot': async () => {
      const syncB = (await as(b, 'control', 'POST', '/api/sync/token', {})).body.data as { token: string };
      const syncA = (await as(a, 'control', 'POST', '/api/sync/token', {})).body.data as { token: string };
      for (const topic of ['runtime.run_summaries', 'runtime.codex_worker_summaries']) {
        replies.push(await call(system.urls.gateway, 'GET', `/api/sync/snapshot?topic=${topic}&page_size=200`, { token: syncB.token }));
        // A page token of A's snapshot is refused like a forged one.
        const pageA = await call(system.urls.gateway, 'GET', `/api/sync/snapshot?topic=${topic}&page_size=1`, { token: syncA.token });
        const aToken = pageA.body.next_page_token as string;
        expect(aToken).toEqual(expect.any(String));
        await indistinguishable(
          (token) => call(system.urls.gateway, 'GET', `/api/sync/snapshot?topic=${topic}&page_token=${encodeURIComponent(token)}`, { token: syncB.token }).then((r) => (replies.push(r), r)),
          aToken,
          [400],
        );
      }
    },
    ...Object.fromEntries(
      ['control', 'runtime', 'gateway'].flatMap((app) =>
        ['GET /health/live', 'GET /health/ready', 'GET /metrics'].map((route) => [
          `${app} ${route}`,
          async () => {
            const reply = await fetch(`${system.urls[app as 'control']}${route.split(' ')[1]}`);
            const text = await reply.text();
            expect(text).not.toContain(a.org_id);
            expect(text).not.toContain(secret);
          },
        ]),
      ),
    ),
  };

  it('has a cross-tenant case for every route of every app (derived from Nest route metadata)', () => {
    const routes = routesOfApps(testDatabaseUrl());
    const all = Object.entries(routes).flatMap(([app, list]) => list.map((route) => `${app} ${route}`));
    expect(Object.keys(cases).sort()).toEqual(all.sort());
  });

  for (const [route, attack] of Object.entries(cases)) {
    it(`B cannot reach A through ${route}`, attack, 30_000);
  }

  it('WS: every topic family resolves to B\'s own org or is forbidden exactly like a nonexistent entity; no frame carries A\'s data', async () => {
    const families = [...TOPIC_CLASSES, ...['run:x:events', 'worker:x:events'].map((topic) => resolveTopic(topic)!.kind)];
    expect(families).toEqual([...TOPIC_CLASSES, 'run', 'worker']);
    const sync = (await as(b, 'control', 'POST', '/api/sync/token', {})).body.data as { token: string };
    const client = await RawPhoenixClient.connect(`${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket?token=${encodeURIComponent(sync.token)}&vsn=2.0.0`);
    try {
      expect(await client.join()).toMatchObject({ status: 'ok' });
      const resume = Object.fromEntries(TOPIC_CLASSES.map((topic) => [topic, 0]));
      const subscribed = await client.request('sync:v1', 'sync:subscribe', { topics: [...TOPIC_CLASSES], resume_after: resume });
      expect(subscribed[4]).toMatchObject({ status: 'ok' });
      for (const [kind, victimId] of [['run', victim.runId], ['worker', victim.otherWorkerId]] as const) {
        const missing = `${kind}_${randomUUID().replace(/-/g, '')}`;
        const atVictim = (await client.request('sync:v1', 'sync:subscribe', { topics: [`${kind}:${victimId}:events`], resume_after: { [`${kind}:${victimId}:events`]: 0 } }))[4];
        const atMissing = (await client.request('sync:v1', 'sync:subscribe', { topics: [`${kind}:${missing}:events`], resume_after: { [`${kind}:${missing}:events`]: 0 } }))[4];
        expect(atVictim).toMatchObject({ status: 'error', response: { code: 'forbidden_topic' } });
        expect(JSON.parse(JSON.stringify(atVictim).split(victimId).join('<id>'))).toEqual(JSON.parse(JSON.stringify(atMissing).split(missing).join('<id>')));
      }
      // Org-qualified spellings of a class topic name no other org's partition.
      const qualified = [`runtime.run_summaries:${a.org_id}`, `${a.org_id}/runtime.run_summaries`, `runtime.run_summaries@${a.org_id}`];
      for (const topic of qualified) {
        expect((await client.request('sync:v1', 'sync:subscribe', { topics: [topic] }))[4]).toMatchObject({ status: 'error' });
      }
      // B's own run arrives live; by then any of A's updates would have too.
      const own = await as(b, 'runtime', 'POST', '/api/runtime/runs', {});
      await client.waitFor((frame) => JSON.stringify(frame[4]).includes(own.body.run_id as string), 20_000);
      // The error replies echo B's own probe topics; A's ids may appear only there.
      const probes = [...qualified, `run:${victim.runId}:events`, `worker:${victim.otherWorkerId}:events`];
      const frames = probes.reduce((text, probe) => text.split(probe).join('<probe>'), JSON.stringify(client.frames));
      for (const marker of [secret, a.org_id, a.user_id, victim.runId, victim.idempotentRunId]) expect(frames).not.toContain(marker);
    } finally {
      await client.close();
    }
  }, 60_000);

  it("no response to B carried any of A's data", () => {
    const text = JSON.stringify(replies.map((reply) => reply.body));
    expect(replies.length).toBeGreaterThan(20);
    // A's ids appear only where B itself sent them and they were masked above; the secret never.
    expect(text).not.toContain(secret);
    expect(text).not.toContain(a.user_id);
    expect(text).not.toContain(a.email.toLowerCase());
  });
});
