import { randomBytes } from 'node:crypto';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { KeyRing, TokenService } from '@khala/auth';
import { Database } from '@khala/platform';
import { call, signUp, SignedUp } from '../control/control-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, startTestSystem, TestIdentity } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { b64url, decodePart, forge, genuineClaims, nowSeconds, randomSecret, replacePart } from './support/forge';

/**
 * Token forgery, against the real HTTP apps and the WS gateway. Every forged or dead credential
 * gets 401 with the code libs/auth documents (docs/protocol/README.md §2), the body never echoes the
 * token, and nothing is written for anyone (checked on the event store and idempotency records at
 * the end). The key ring is current + previous; a third, retired key is no longer in it.
 */
describe('token forgery', () => {
  const current = { kid: 'k-current', secret: randomSecret() };
  const previous = { kid: 'k-previous', secret: randomSecret() };
  const retired = { kid: 'k-retired', secret: randomSecret() };
  const ring = new KeyRing([current, previous]);
  let system: RunningSystem;
  let db: Database;
  let victim: SignedUp;
  let victimSubject: TestIdentity;
  const attacker = freshIdentity();
  let writesBefore: number;

  const sign = (kind: 'access' | 'sync', claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = current) =>
    forge({ header: { kid: key.kid, ...header }, claims: { ...genuineClaims(attacker, kind), ...claims }, secret: key.secret });

  const writesFor = async () => {
    const { rows } = await db.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM eventstore.events WHERE data->>'org_id' = ANY($1::text[]))
            + (SELECT count(*) FROM runtime.idempotency_keys WHERE org_id = ANY($1::text[])) AS n`,
      [[victim.org_id, attacker.orgId]],
    );
    return Number(rows[0].n);
  };

  beforeAll(async () => {
    system = await startTestSystem({ AUTH_SIGNING_KEYS: ring.serialize(), RUNTIME_PROJECTORS: 'off' });
    db = await connectTestDatabase({ max: 2 });
    victim = await signUp(system.urls.control);
    victimSubject = { userId: victim.user_id, orgId: victim.org_id, sessionId: victim.session_id, deviceId: victim.device_id };
    writesBefore = await writesFor();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await system?.stop();
  });

  /** Every HTTP route an access/API token is presented to: a runtime command, a runtime read, control. */
  async function expectAccessRefused(token: string, code: string, status = 401): Promise<void> {
    const attempts = [
      await call(system.urls.runtime, 'POST', '/api/runtime/runs', { token, body: { metadata: { forged: true } } }),
      await call(system.urls.runtime, 'GET', '/api/runtime/runs', { token }),
      await call(system.urls.control, 'GET', '/api/me', { token }),
      await call(system.urls.control, 'POST', '/api/sync/token', { token, body: {} }),
    ];
    for (const reply of attempts) {
      expect({ status: reply.status, code: reply.body.code }).toEqual({ status, code });
      expect(JSON.stringify(reply.body)).not.toContain(token.slice(-20));
    }
  }

  const wsUrl = (token: string) => `${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket?token=${encodeURIComponent(token)}&vsn=2.0.0`;

  /** The sync surfaces: the snapshot route and the WebSocket upgrade. */
  async function expectSyncRefused(token: string, code: string): Promise<void> {
    const snapshot = await call(system.urls.gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', { token });
    expect({ status: snapshot.status, code: snapshot.body.code }).toEqual({ status: 401, code });
    const refused = await RawPhoenixClient.connect(wsUrl(token)).then(
      async (client) => {
        await client.close();
        return { status: 101, body: '' };
      },
      (error: { status?: number; body?: string }) => error,
    );
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body ?? '{}')).toMatchObject({ code });
  }

  const both = async (make: (kind: 'access' | 'sync') => string, code: string) => {
    await expectAccessRefused(make('access'), code);
    await expectSyncRefused(make('sync'), code);
  };

  it('genuine tokens of the current and the previous key are accepted (the controls for every case below)', async () => {
    for (const key of [current, previous]) {
      const token = sign('access', {}, {}, key);
      expect((await call(system.urls.runtime, 'GET', '/api/runtime/runs', { token })).status).toBe(200);
      const sync = sign('sync', {}, {}, key);
      expect((await call(system.urls.gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', { token: sync })).status).toBe(200);
    }
  });

  it('alg none (unsigned) is invalid_token', async () => {
    await both((kind) => forge({ header: { alg: 'none', kid: current.kid }, claims: genuineClaims(victimSubject, kind) }), 'invalid_token');
  });

  it('algorithm confusion (RS256, ES256, HS512, lowercase hs256 headers over an HMAC of the real key) is invalid_token', async () => {
    for (const alg of ['RS256', 'ES256', 'HS512', 'hs256', 'PS256']) {
      await both((kind) => forge({ header: { alg, kid: current.kid }, claims: genuineClaims(victimSubject, kind), secret: current.secret }), 'invalid_token');
    }
  });

  it('the kid of another key in the ring is invalid_signature; an unknown or missing kid is unknown_kid', async () => {
    await both((kind) => forge({ header: { kid: previous.kid }, claims: genuineClaims(victimSubject, kind), secret: current.secret }), 'invalid_signature');
    await both((kind) => sign(kind, {}, { kid: 'k-nobody' }), 'unknown_kid');
    await both((kind) => forge({ header: {}, claims: genuineClaims(victimSubject, kind), secret: current.secret }), 'unknown_kid');
    // Path- or injection-shaped kids are just unknown.
    await both((kind) => sign(kind, {}, { kid: "../../etc/passwd' OR '1'='1" }), 'unknown_kid');
  });

  it('a token signed with a retired key (no longer in the ring) is unknown_kid', async () => {
    await both((kind) => sign(kind, {}, {}, retired), 'unknown_kid');
    // And a verifier whose ring dropped the previous key refuses that key's tokens too.
    const afterRetirement = new TokenService(new KeyRing([current]));
    await expect(afterRetirement.verifyAccessToken(sign('access', {}, {}, previous))).rejects.toMatchObject({ code: 'unknown_kid' });
  });

  it("a genuine token whose payload is swapped for the victim's (original signature kept) is invalid_signature", async () => {
    await both((kind) => replacePart(sign(kind), 1, b64url(JSON.stringify(genuineClaims(victimSubject, kind)))), 'invalid_signature');
    // Only the org changed, everything else byte-identical in meaning.
    await both((kind) => {
      const token = sign(kind);
      return replacePart(token, 1, b64url(JSON.stringify({ ...decodePart(token, 1), oa_org_id: victim.org_id })));
    }, 'invalid_signature');
  });

  it('a tampered header (original signature kept) is invalid_signature', async () => {
    await both((kind) => {
      const token = sign(kind);
      return replacePart(token, 0, b64url(JSON.stringify({ ...decodePart(token, 0), typ: 'at+jwt', extra: 1 })));
    }, 'invalid_signature');
  });

  it('expired is token_expired; not yet valid is claim_mismatch (beyond the 30 s skew)', async () => {
    const past = nowSeconds() - 3600;
    await both((kind) => sign(kind, { iat: past, nbf: past, exp: past + 300 }), 'token_expired');
    const future = nowSeconds() + 600;
    await both((kind) => sign(kind, { iat: future, nbf: future, exp: future + 300 }), 'claim_mismatch');
  });

  it('wrong audience, wrong issuer, mistyped or missing claims are claim_mismatch', async () => {
    await both((kind) => sign(kind, { aud: 'khala-admin' }), 'claim_mismatch');
    await both((kind) => sign(kind, { iss: 'evil-control' }), 'claim_mismatch');
    await both((kind) => sign(kind, { oa_org_id: 42 }), 'claim_mismatch');
    await both((kind) => sign(kind, { oa_claims_version: 99 }), 'claim_mismatch');
    await both((kind) => sign(kind, { sub: victim.user_id }), 'claim_mismatch');
    await both((kind) => sign(kind, { jti: undefined }), 'claim_mismatch');
  });

  it('a sync token is not an access token, and an access token is not a sync token', async () => {
    const real = new TokenService(ring);
    const sync = (await real.issueSyncToken(attacker, ['runtime.run_summaries'], 300)).token;
    const access = (await real.issueAccessToken(attacker, 300)).token;
    await expectAccessRefused(sync, 'claim_mismatch');
    await expectSyncRefused(access, 'claim_mismatch');
  });

  it('garbage, truncated and malformed tokens are invalid_token (or invalid_signature when only the signature is cut)', async () => {
    for (const garbage of ['garbage', 'a.b.c', '...', 'e30.e30.', `${b64url('not json')}.${b64url('{}')}.x`, '\u00e9\u00e8.x.y', 'Bearer']) {
      await both(() => garbage, 'invalid_token');
    }
    await both((kind) => sign(kind).split('.').slice(0, 2).join('.'), 'invalid_token');
    await both((kind) => sign(kind).slice(0, -5), 'invalid_signature');
  });

  it('extremely long tokens are refused: 401 within the header limit, 431 beyond it, never a 500', async () => {
    const padded = (kind: 'access' | 'sync') => sign(kind, { pad: 'x'.repeat(8_000) }, {}, { kid: current.kid, secret: randomSecret() });
    await both(padded, 'invalid_signature');
    await both((kind) => sign(kind, {}, { kid: 'k'.repeat(8_000) }), 'unknown_kid');
    const huge = `${'a'.repeat(100_000)}.${'b'.repeat(100_000)}.c`;
    for (const reply of [
      await call(system.urls.runtime, 'POST', '/api/runtime/runs', { token: huge, body: {} }),
      await call(system.urls.gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', { token: huge }),
    ]) {
      expect([401, 431]).toContain(reply.status);
    }
  });

  it('personal API tokens: unknown, altered by one character or revoked are refused; never accepted as sync tokens', async () => {
    const unknown = `oa_pat_${randomBytes(32).toString('base64url')}`;
    await expectAccessRefused(unknown, 'invalid_token');
    const issued = await call<{ token: string; token_id: string }>(system.urls.control, 'POST', '/api/tokens', { token: victim.access_token, body: { name: 'forgery' } });
    expect(issued.status).toBe(201);
    const token = issued.body.token;
    const altered = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    await expectAccessRefused(altered, 'invalid_token');
    await expectSyncRefused(token, 'invalid_token');
    expect((await call(system.urls.control, 'POST', `/api/tokens/${issued.body.token_id}/revoke`, { token: victim.access_token, body: { reason: 'test' } })).status).toBe(200);
    await expectAccessRefused(token, 'token_revoked');
  });

  it('a revoked session: access tokens are session_revoked, its sync token cannot read a snapshot or join', async () => {
    const user = await signUp(system.urls.control);
    const sync = await call<{ data: { token: string } }>(system.urls.control, 'POST', '/api/sync/token', { token: user.access_token, body: {} });
    expect(sync.status).toBe(200);
    const revoke = await call(system.urls.control, 'POST', '/api/auth/sessions/revoke', {
      token: user.access_token,
      body: { session_ids: [user.session_id], reason: 'stolen laptop' },
    });
    expect(revoke.status).toBe(200);
    // Apps may keep "not revoked" for at most 1 s (libs/auth); past that bound, every app refuses.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expectAccessRefused(user.access_token, 'session_revoked');
    const snapshot = await call(system.urls.gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', { token: sync.body.data.token });
    expect(snapshot).toMatchObject({ status: 401, body: { code: 'reauth_required' } });
    const client = await RawPhoenixClient.connect(wsUrl(sync.body.data.token));
    try {
      client.send('sync:v1', 'phx_join', {});
      // The join is refused with reauth_required (docs/protocol/README.md §2), never a sync:error push first; no update flows.
      const refusal = await client.waitFor((frame) => JSON.stringify(frame[4]).includes('"reauth_required"'));
      expect(refusal[3]).toBe('phx_reply');
      expect(refusal[4]).toMatchObject({ status: 'error', response: { code: 'reauth_required', reauth_required: true } });
      expect(client.updates()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('API token scopes are enforced: a token without the route\'s scope gets 403 insufficient_scope and writes nothing', async () => {
    const user = await signUp(system.urls.control);
    const tokenWith = async (scopes: string[]) =>
      (await call<{ token: string }>(system.urls.control, 'POST', '/api/tokens', { token: user.access_token, body: { name: scopes.join(','), scopes } })).body.token;
    const read = await tokenWith(['runtime:read']);
    const write = await tokenWith(['runtime:write']);
    const sync = await tokenWith(['sync:read']);
    const routes = {
      createRun: (token: string) => call(system.urls.runtime, 'POST', '/api/runtime/runs', { token, body: {} }),
      startWorker: (token: string) => call(system.urls.runtime, 'POST', '/api/runtime/codex/workers', { token, body: { workspace_ref: 'w', adapter: 'codex' } }),
      listRuns: (token: string) => call(system.urls.runtime, 'GET', '/api/runtime/runs', { token }),
      listWorkers: (token: string) => call(system.urls.runtime, 'GET', '/api/runtime/codex/workers', { token }),
      syncToken: (token: string) => call(system.urls.control, 'POST', '/api/sync/token', { token, body: {} }),
    };
    const allowed: Record<string, string[]> = { createRun: [write], startWorker: [write], listRuns: [read], listWorkers: [read], syncToken: [sync] };
    for (const [route, attempt] of Object.entries(routes)) {
      for (const token of [read, write, sync]) {
        const reply = await attempt(token);
        if (allowed[route].includes(token)) expect(reply.status).toBeLessThan(300);
        else expect({ route, status: reply.status, code: reply.body.code }).toEqual({ route, status: 403, code: 'insufficient_scope' });
      }
    }
    // Exactly the two permitted writes happened (one run, one worker), none of the refused ones.
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM eventstore.events WHERE data->>'org_id' = $1 AND category IN ('run', 'codexWorker')`,
      [user.org_id],
    );
    expect(Number(rows[0].n)).toBe(2);
    // Account management needs a session: no API token lists or revokes sessions and tokens.
    for (const [method, path, body] of [
      ['GET', '/api/auth/sessions', undefined],
      ['POST', '/api/auth/sessions/revoke', { session_ids: [user.session_id], reason: 'x' }],
      ['GET', '/api/tokens', undefined],
      ['POST', '/api/tokens/tok_x/revoke', { reason: 'x' }],
      ['POST', '/api/tokens', { name: 'x' }],
      ['POST', `/api/orgs/${user.org_id}/members`, { email: user.email, role: 'member' }],
    ] as const) {
      for (const token of [read, write, sync]) {
        const reply = await call(system.urls.control, method, path, { token, body });
        expect({ path, status: reply.status, code: reply.body.code }).toEqual({ path, status: 403, code: 'api_token_not_allowed' });
      }
    }
    expect((await call(system.urls.control, 'GET', '/api/me', { token: user.access_token })).status).toBe(200);
    // A session's access token is not limited by API token scopes.
    expect((await routes.createRun(user.access_token)).status).toBe(201);
  });

  it('none of the attempts wrote anything for the victim or the attacker', async () => {
    // The only writes are the victim's own: issuing and revoking an API token (control streams).
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM eventstore.events WHERE data->>'org_id' = ANY($1::text[]) AND category IN ('run', 'codexWorker')`,
      [[victim.org_id, attacker.orgId]],
    );
    expect(Number(rows[0].n)).toBe(0);
    expect(await writesFor()).toBe(writesBefore + 2);
  });
});
