import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { KeyRing, TokenService } from '@khala/auth';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { call, CONTROL_TEST_ENV, createRun, logIn, signUp, SignedUp } from './control-client';

const key = (kid: string) => ({ kid, secret: randomBytes(32) });

/** Access tokens are verified by runtime alone; each bad token is refused with the code of the failed check. */
describe('access and sync tokens over HTTP', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  let system: RunningSystem;
  let user: SignedUp;

  beforeAll(async () => {
    system = await startTestSystem({ ...CONTROL_TEST_ENV, AUTH_SIGNING_KEYS: new KeyRing([k1]).serialize() });
    user = await signUp(system.urls.control);
  });
  afterAll(() => system?.stop());

  const subject = () => ({ userId: user.user_id, orgId: user.org_id, sessionId: user.session_id, deviceId: user.device_id });

  async function runtimeRefuses(token: string) {
    const reply = await createRun(system.urls.runtime, token);
    expect(reply.status).toBe(401);
    return reply.body.code;
  }

  it('refuses expired, tampered, alg none, wrong audience, wrong issuer and unknown kid tokens', async () => {
    const ring = new KeyRing([k1]);
    const expired = await new TokenService(ring, () => Math.floor(Date.now() / 1000) - 3600).issueAccessToken(subject(), 300);
    expect(await runtimeRefuses(expired.token)).toBe('token_expired');

    const good = (await new TokenService(ring).issueAccessToken(subject(), 300)).token;
    const [header, payload, signature] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, oa_org_id: 'org_someone_else' })).toString('base64url');
    expect(await runtimeRefuses(`${header}.${forged}.${signature}`)).toBe('invalid_signature');

    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'k1' })).toString('base64url');
    expect(await runtimeRefuses(`${none}.${payload}.`)).toBe('invalid_token');

    const sync = (await new TokenService(ring).issueSyncToken(subject(), ['runtime.run_summaries'], 300)).token;
    expect(await runtimeRefuses(sync)).toBe('claim_mismatch');

    const wrongIssuer = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k1' })
      .setIssuer('someone-else')
      .sign(k1.secret);
    expect(await runtimeRefuses(wrongIssuer)).toBe('claim_mismatch');

    const unknownKid = (await new TokenService(new KeyRing([key('k9')])).issueAccessToken(subject(), 300)).token;
    expect(await runtimeRefuses(unknownKid)).toBe('unknown_kid');

    // The right key under a kid it is not published as is still an unknown kid.
    const renamed = (await new TokenService(new KeyRing([{ kid: 'k0', secret: k1.secret }])).issueAccessToken(subject(), 300)).token;
    expect(await runtimeRefuses(renamed)).toBe('unknown_kid');

    expect(await runtimeRefuses('')).toBe('missing_token');
    expect((await createRun(system.urls.runtime, good)).status).toBe(201);
  });

  describe('POST /api/sync/token', () => {
    it('defaults to every topic class the org allows, with a 300 s TTL and typed claims', async () => {
      const reply = await call<{ data: Record<string, unknown> }>(system.urls.control, 'POST', '/api/sync/token', {
        token: user.access_token,
        body: {},
      });
      expect(reply.status).toBe(200);
      const data = reply.body.data;
      expect(data).toMatchObject({
        token_type: 'Bearer',
        expires_in: 300,
        issuer: 'khala-control',
        audience: 'khala-sync',
        subject: user.user_id,
        org_id: user.org_id,
        claims_version: 1,
        kid: expect.any(String),
        scopes: [
          'runtime.run_summaries',
          'runtime.codex_worker_summaries',
          'runtime.codex_worker_events',
          'runtime.run_events',
          'runtime.notifications',
        ],
      });
      // The response's instants are RFC 3339 (UTC, Z); the claims inside the token stay NumericDate seconds.
      expect(Date.parse(data.expires_at as string) - Date.parse(data.issued_at as string)).toBe(300_000);
      const principal = await new TokenService(system.keys).verifySyncToken(data.token as string);
      expect(principal).toMatchObject({ userId: user.user_id, orgId: user.org_id, sessionId: user.session_id, deviceId: user.device_id });
      const claims = JSON.parse(Buffer.from((data.token as string).split('.')[1], 'base64url').toString()) as Record<string, unknown>;
      for (const field of ['iat', 'nbf', 'exp', 'oa_claims_version']) expect(Number.isInteger(claims[field])).toBe(true);
      for (const field of ['iss', 'aud', 'sub', 'jti', 'oa_user_id', 'oa_org_id', 'oa_session_id', 'oa_device_id']) {
        expect(typeof claims[field]).toBe('string');
      }
      // A sync token is not an access token.
      expect(await runtimeRefuses(data.token as string)).toBe('claim_mismatch');
    });

    it('narrows to the requested classes and TTL; anything outside the policy is 422 invalid_scope', async () => {
      const narrowed = await call<{ data: { scopes: string[]; expires_in: number } }>(system.urls.control, 'POST', '/api/sync/token', {
        token: user.access_token,
        body: { scopes: ['runtime.run_summaries'], ttl_seconds: 60 },
      });
      expect(narrowed.status).toBe(200);
      expect(narrowed.body.data).toMatchObject({ scopes: ['runtime.run_summaries'], expires_in: 60 });

      const invalid = await call(system.urls.control, 'POST', '/api/sync/token', {
        token: user.access_token,
        body: { scopes: ['runtime.run_summaries', 'control.users'] },
      });
      expect(invalid.status).toBe(422);
      expect(invalid.body).toMatchObject({ code: 'invalid_scope', details: { invalid_scopes: ['control.users'] } });

      for (const ttl_seconds of [59, 901]) {
        const reply = await call(system.urls.control, 'POST', '/api/sync/token', { token: user.access_token, body: { ttl_seconds } });
        expect(reply.status).toBe(400);
      }
      const otherDevice = await call(system.urls.control, 'POST', '/api/sync/token', {
        token: user.access_token,
        body: { device_id: 'not-my-device' },
      });
      expect(otherDevice.status).toBe(422);
      expect(otherDevice.body).toMatchObject({ code: 'device_mismatch' });
    });
  });

  // Last: it restarts the system and retires the key the other tests' tokens were signed with.
  it('after rotation a token signed with the previous key still works; once it is retired, it fails', async () => {
    const before = await logIn(system.urls.control, user.email, user.password, 'rotation-device');
    expect(before.status).toBe(200);
    const oldToken = before.body.access_token;
    await system.stop();

    // Rotate: k2 signs, k1 still verifies.
    system = await startTestSystem({ ...CONTROL_TEST_ENV, AUTH_SIGNING_KEYS: new KeyRing([k2, k1]).serialize() });
    expect((await createRun(system.urls.runtime, oldToken)).status).toBe(201);
    expect((await call(system.urls.control, 'GET', '/api/me', { token: oldToken })).status).toBe(200);
    const after = await logIn(system.urls.control, user.email, user.password, 'rotation-device');
    const header = JSON.parse(Buffer.from(after.body.access_token.split('.')[0], 'base64url').toString()) as { kid: string };
    expect(header.kid).toBe('k2');
    await system.stop();

    // Retire k1: its tokens are now an unknown kid; k2's keep working.
    system = await startTestSystem({ ...CONTROL_TEST_ENV, AUTH_SIGNING_KEYS: new KeyRing([k2]).serialize() });
    expect(await runtimeRefuses(oldToken)).toBe('unknown_kid');
    expect((await createRun(system.urls.runtime, after.body.access_token)).status).toBe(201);
  });
});
