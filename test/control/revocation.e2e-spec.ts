import { Client } from 'pg';
import { REVOCATIONS_CHANNEL, RevocationNotice } from '@khala/auth';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { itOnPostgres, testDatabaseUrl } from '../support/test-database';
import { call, CONTROL_TEST_ENV, createRun, eventually, logIn, signUp } from './control-client';

/**
 * Revocation is stored in Postgres and read by runtime on every request (≤ 1 s cache), so it holds
 * on every instance. Tests poll with the 2 s budget and then assert the outcome and its code.
 */
describe('revocation of sessions, devices and API tokens', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startTestSystem(CONTROL_TEST_ENV);
  });
  afterAll(() => system.stop());

  const refusedWithin2s = (token: string) =>
    eventually(
      () => createRun(system.urls.runtime, token),
      (reply) => reply.status === 401,
      2000,
    );

  it("revoking a session makes its token fail on runtime within 2 s; the user's other sessions keep working", async () => {
    const user = await signUp(system.urls.control);
    const phone = await logIn(system.urls.control, user.email, user.password, 'phone');
    expect((await createRun(system.urls.runtime, phone.body.access_token)).status).toBe(201);
    // Warm runtime's per-process cache with "not revoked" for the session about to be revoked.
    expect((await createRun(system.urls.runtime, user.access_token)).status).toBe(201);

    const revoke = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: phone.body.access_token,
      body: { session_ids: [user.session_id], reason: 'signed out elsewhere' },
    });
    expect(revoke.status).toBe(200);
    expect(revoke.body).toEqual({ revoked_session_ids: [user.session_id], revoked_device_ids: [] });

    const after = await refusedWithin2s(user.access_token);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ code: 'session_revoked' });
    expect((await call(system.urls.control, 'GET', '/api/me', { token: user.access_token })).body).toMatchObject({
      code: 'session_revoked',
    });
    expect((await createRun(system.urls.runtime, phone.body.access_token)).status).toBe(201);

    // Revoking again is harmless; someone else's session is not found and nothing changes.
    const again = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: phone.body.access_token,
      body: { session_ids: [user.session_id], reason: 'again' },
    });
    expect(again.status).toBe(200);
    const stranger = await signUp(system.urls.control);
    const foreign = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: stranger.access_token,
      body: { session_ids: [phone.body.session_id], reason: 'hostile' },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: 'session_not_found' });
    expect((await createRun(system.urls.runtime, phone.body.access_token)).status).toBe(201);
  });

  it('revoking a device ends every session on it, not sessions on other devices or later logins', async () => {
    const user = await signUp(system.urls.control, { device_id: 'desktop' });
    const laptopA = await logIn(system.urls.control, user.email, user.password, 'laptop');
    const laptopB = await logIn(system.urls.control, user.email, user.password, 'laptop');
    const revoke = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: user.access_token,
      body: { device_ids: ['laptop'], reason: 'laptop stolen' },
    });
    expect(revoke.status).toBe(200);
    for (const session of [laptopA, laptopB]) {
      const reply = await refusedWithin2s(session.body.access_token);
      expect(reply.body).toMatchObject({ code: 'session_revoked' });
    }
    expect((await createRun(system.urls.runtime, user.access_token)).status).toBe(201);
    const laptopC = await logIn(system.urls.control, user.email, user.password, 'laptop');
    expect((await createRun(system.urls.runtime, laptopC.body.access_token)).status).toBe(201);
  });

  it('a revoke without ids is 400 and revokes nothing', async () => {
    const user = await signUp(system.urls.control);
    const reply = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: user.access_token,
      body: { reason: 'nothing' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'nothing_to_revoke' });
    expect((await createRun(system.urls.runtime, user.access_token)).status).toBe(201);
  });

  it('personal API tokens: shown once, stored hashed, accepted by runtime, revocable', async () => {
    const user = await signUp(system.urls.control);
    const issued = await call<{ token_id: string; token: string; scopes: string[] }>(system.urls.control, 'POST', '/api/tokens', {
      token: user.access_token,
      body: { name: 'ci' },
    });
    expect(issued.status).toBe(201);
    expect(issued.body.token).toMatch(/^oa_pat_[A-Za-z0-9_-]{43}$/);
    expect(issued.body.scopes).toEqual(['runtime:read', 'runtime:write', 'sync:read']);

    expect((await createRun(system.urls.runtime, issued.body.token)).status).toBe(201);
    const me = await call(system.urls.control, 'GET', '/api/me', { token: issued.body.token });
    expect(me.body).toMatchObject({ user_id: user.user_id, org_id: user.org_id });

    const list = await call(system.urls.control, 'GET', '/api/tokens', { token: user.access_token });
    expect(list.body).toMatchObject({ tokens: [{ token_id: issued.body.token_id, name: 'ci', revoked_at: null }] });
    expect(JSON.stringify(list.body)).not.toContain(issued.body.token);

    // An API token cannot mint more API tokens.
    const minted = await call(system.urls.control, 'POST', '/api/tokens', { token: issued.body.token, body: { name: 'x' } });
    expect(minted.status).toBe(403);
    const badScope = await call(system.urls.control, 'POST', '/api/tokens', {
      token: user.access_token,
      body: { name: 'x', scopes: ['root'] },
    });
    expect(badScope.status).toBe(422);

    const unknown = await createRun(system.urls.runtime, `oa_pat_${'A'.repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toMatchObject({ code: 'invalid_token' });

    const revoked = await call(system.urls.control, 'POST', `/api/tokens/${issued.body.token_id}/revoke`, {
      token: user.access_token,
      body: { reason: 'rotated' },
    });
    expect(revoked.status).toBe(200);
    const after = await createRun(system.urls.runtime, issued.body.token);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ code: 'token_revoked' });
  });

  itOnPostgres('one session, no NOTIFY is sent')('NOTIFYs khala_revocations with the session after the revocation commits (Postgres)', async () => {
    const listener = new Client({ connectionString: testDatabaseUrl() });
    await listener.connect();
    const notices: RevocationNotice[] = [];
    listener.on('notification', (message) => {
      if (message.channel === REVOCATIONS_CHANNEL) notices.push(JSON.parse(message.payload ?? '{}') as RevocationNotice);
    });
    await listener.query(`LISTEN ${REVOCATIONS_CHANNEL}`);
    try {
      const user = await signUp(system.urls.control, { device_id: 'tablet' });
      await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
        token: user.access_token,
        body: { session_ids: [user.session_id], reason: 'bye' },
      });
      const got = await eventually(
        async () => notices.find((notice) => notice.session_id === user.session_id),
        (notice) => notice !== undefined,
        2000,
      );
      expect(got).toEqual({ session_id: user.session_id, user_id: user.user_id, org_id: user.org_id, device_id: 'tablet', reason: 'bye' });
      // By the time the notice arrives the row is committed and readable by the gateway's role.
      await listener.query('SET ROLE khala_gateway');
      const { rows } = await listener.query('SELECT session_id, reason FROM control.revocations WHERE session_id = $1', [
        user.session_id,
      ]);
      expect(rows).toEqual([{ session_id: user.session_id, reason: 'bye' }]);
    } finally {
      await listener.end();
    }
  });
});
