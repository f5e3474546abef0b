import fc from 'fast-check';
import { Database } from '@khala/platform';
import type { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { footprint } from './support/footprint';
import { deepJson, fuzzParameters, FUZZ_TIMEOUT_MS, FUZZ_RUNS, hostileString, hostileValue, mutated } from './support/hostile-values';
import { isCodedError, rawRequest, RawResponse } from './support/http';

type AppName = 'control' | 'runtime' | 'gateway';

interface Route {
  app: AppName;
  method: 'GET' | 'POST';
  /** With `:run`, `:worker`, `:org`, `:token` placeholders. */
  path: string;
  /** A body the route accepts (POST only). */
  valid?: Record<string, unknown>;
  auth: 'access' | 'sync' | 'none';
}

const percentEncode = (value: string) => [...Buffer.from(value)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

const unique = () => `fz${Math.random().toString(36).slice(2, 10)}`;

/** Every route of api.md (runtime, control, and the gateway's snapshot), with a body it accepts. */
const ROUTES: Route[] = [
  { app: 'control', method: 'POST', path: '/api/auth/signup', valid: { email: 'fuzz@example.com', password: 'correct horse battery', name: 'Fuzz' }, auth: 'none' },
  { app: 'control', method: 'POST', path: '/api/auth/login', valid: { email: 'fuzz@example.com', password: 'correct horse battery', device_id: 'dev-1' }, auth: 'none' },
  { app: 'control', method: 'POST', path: '/api/auth/sessions/revoke', valid: { reason: 'fuzz', device_ids: ['no-such-device'] }, auth: 'access' },
  { app: 'control', method: 'GET', path: '/api/auth/sessions', auth: 'access' },
  { app: 'control', method: 'GET', path: '/api/me', auth: 'access' },
  { app: 'control', method: 'POST', path: '/api/tokens', valid: { name: 'fuzz', scopes: ['runtime:read'] }, auth: 'access' },
  { app: 'control', method: 'GET', path: '/api/tokens', auth: 'access' },
  { app: 'control', method: 'POST', path: '/api/tokens/:token/revoke', valid: {}, auth: 'access' },
  { app: 'control', method: 'POST', path: '/api/orgs/:org/members', valid: { email: 'nobody@example.com', role: 'member' }, auth: 'access' },
  { app: 'control', method: 'POST', path: '/api/sync/token', valid: { scopes: ['runtime.run_summaries'] }, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/runs', valid: { thread_id: 't-1', metadata: { a: 1 } }, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/runs/:run/frames', valid: { frames: [{ frame_id: 'f-1', type: 'run.text_delta', payload: { text: 'x' } }] }, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/runs/:run/cancel', valid: { reason: 'fuzz' }, auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/runs', auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/runs/:run', auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/runs/:run/events', auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/codex/workers', valid: { workspace_ref: 'ws://x', adapter: 'codex' }, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/codex/workers/:worker/events', valid: { event: { event_type: 'worker.output', payload: { line: 'x' } } }, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/codex/workers/:worker/heartbeat', valid: {}, auth: 'access' },
  { app: 'runtime', method: 'POST', path: '/api/runtime/codex/workers/:worker/stop', valid: { reason: 'fuzz' }, auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/codex/workers', auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/codex/workers/:worker', auth: 'access' },
  { app: 'runtime', method: 'GET', path: '/api/runtime/codex/workers/:worker/snapshot', auth: 'access' },
  { app: 'gateway', method: 'GET', path: '/api/sync/snapshot?topic=runtime.run_summaries', auth: 'sync' },
];
const POST_ROUTES = ROUTES.filter((route) => route.method === 'POST');

const CONTENT_TYPES = [
  'application/json',
  'APPLICATION/JSON; charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json-patch+json',
  'application/xml',
  '',
];

/**
 * Hostile HTTP bodies, content types, paths and queries against every route of runtime, control
 * and the gateway's snapshot route. Each answer is either a success or the documented coded error
 * (never a 5xx, never an uncoded body), a rejected request writes nothing for the tenant (its
 * events and stored idempotent responses are counted before and after), and the apps stay healthy.
 */
describe('HTTP fuzzing of every route', () => {
  let system: RunningSystem;
  let db: Database;
  let tenant: { userId: string; orgId: string; accessToken: string; syncToken: string; runId: string; workerId: string; tokenId: string };

  beforeAll(async () => {
    system = await startTestSystem();
    db = await connectTestDatabase({ max: 2 });
    const email = `${unique()}@example.com`;
    const signup = await call('control', 'POST', '/api/auth/signup', { email, password: 'correct horse battery', name: 'Fuzz' });
    expect(signup.status).toBe(201);
    const accessToken = signup.json.access_token as string;
    const sync = await call('control', 'POST', '/api/sync/token', { scopes: ['runtime.run_summaries'] }, accessToken);
    const run = await call('runtime', 'POST', '/api/runtime/runs', {}, accessToken);
    const worker = await call('runtime', 'POST', '/api/runtime/codex/workers', { workspace_ref: 'ws', adapter: 'codex' }, accessToken);
    const apiToken = await call('control', 'POST', '/api/tokens', { name: 'fuzz' }, accessToken);
    expect([sync.status, run.status, worker.status, apiToken.status]).toEqual([200, 201, 201, 201]);
    tenant = {
      userId: signup.json.user_id,
      orgId: signup.json.org_id,
      accessToken,
      syncToken: sync.json.data.token,
      runId: run.json.run_id,
      workerId: worker.json.worker_id,
      tokenId: apiToken.json.token_id,
    };
  });
  afterAll(async () => {
    await db?.close();
    await system?.stop();
  });

  function call(app: AppName, method: string, path: string, body?: unknown, token?: string): Promise<RawResponse> {
    return rawRequest(`${system.urls[app]}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  function pathOf(route: Route, params: Partial<Record<'run' | 'worker' | 'org' | 'token', string>> = {}): string {
    return route.path
      .replace(':run', params.run ?? tenant.runId)
      .replace(':worker', params.worker ?? tenant.workerId)
      .replace(':org', params.org ?? tenant.orgId)
      .replace(':token', params.token ?? tenant.tokenId);
  }

  function authHeader(route: Route): Record<string, string> {
    if (route.auth === 'none') return {};
    return { authorization: `Bearer ${route.auth === 'sync' ? tenant.syncToken : tenant.accessToken}` };
  }

  /** What a request writes synchronously (journal rows follow a success asynchronously, via the projector). */
  async function writes(): Promise<{ events: number; idempotencyKeys: number }> {
    const { events, idempotencyKeys } = await footprint(db, tenant.orgId, tenant.userId);
    return { events, idempotencyKeys };
  }

  /** The tenant's footprint as of the last request (recounted only after one succeeded). */
  let known: Awaited<ReturnType<typeof footprint>> | undefined;

  /** The one rule: a coded error or a success; a rejection changes nothing. */
  async function expectWellHandled(route: Route, send: () => Promise<RawResponse>, input: unknown): Promise<void> {
    const before = known ?? (await footprint(db, tenant.orgId, tenant.userId));
    known = undefined;
    const res = await send();
    const where = `${route.method} ${route.path} <- ${JSON.stringify(input)?.slice(0, 300)}`;
    if (res.status >= 500 || (res.status >= 400 && !isCodedError(res.json))) {
      throw new Error(`${where}: ${res.status} ${res.text.slice(0, 300)}`);
    }
    if (res.status >= 400) {
      const after = await footprint(db, tenant.orgId, tenant.userId);
      if (after.events !== before.events || after.idempotencyKeys !== before.idempotencyKeys) {
        throw new Error(`${where}: rejected with ${res.status} ${res.json.code} but changed state ${JSON.stringify({ before, after })}`);
      }
      known = after;
    }
  }

  const routeWithBody = fc.constantFrom(...POST_ROUTES).chain((route) =>
    fc.tuple(fc.constant(route), fc.oneof(mutated({ ...route.valid!, ...(route.path.endsWith('signup') ? { email: `${unique()}@example.com` } : {}) }), hostileValue)),
  );

  it('JSON bodies with wrong types, extra or missing fields, huge numbers and hostile strings get a coded answer', async () => {
    await fc.assert(
      fc.asyncProperty(routeWithBody, fc.option(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 })), async ([route, body], idempotencyKey) => {
        await expectWellHandled(
          route,
          () =>
            rawRequest(`${system.urls[route.app]}${pathOf(route)}`, {
              method: route.method,
              headers: { 'content-type': 'application/json', ...authHeader(route), ...(idempotencyKey !== null ? { 'idempotency-key': idempotencyKey } : {}) },
              body: JSON.stringify(body),
            }),
          body,
        );
      }),
      fuzzParameters(),
    );
  }, FUZZ_TIMEOUT_MS);

  const rawBody = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).map((text) => Buffer.from(text)),
    fc.constantFrom('{', '{"a":', '{"a":1,}', "{'a':1}", '1', '"x"', 'null', 'true', '[]', '[{}]', '{"a":1}{"b":2}', '\ufeff{}', '{"a":1,"a":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}').map((text) => Buffer.from(text)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), Buffer.from('{"a":"\\ud800"}'), Buffer.from('{"a":"\\u0000"}')),
    fc.integer({ min: 100, max: 40_000 }).chain((depth) => fc.constantFrom('array', 'object').map((kind) => Buffer.from(deepJson(depth, kind as 'array' | 'object')))),
    hostileValue.map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
  );

  it('non-JSON, malformed, deeply nested and mis-typed bodies under any content type get a coded answer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_ROUTES), rawBody, fc.constantFrom(...CONTENT_TYPES), async (route, body, contentType) => {
        await expectWellHandled(
          route,
          () =>
            rawRequest(`${system.urls[route.app]}${pathOf(route)}`, {
              method: 'POST',
              headers: { ...(contentType ? { 'content-type': contentType } : {}), ...authHeader(route) },
              body,
            }),
          { contentType, body: body.toString('utf8').slice(0, 200) },
        );
      }),
      fuzzParameters(),
    );
  }, FUZZ_TIMEOUT_MS);

  it('hostile path parameters and query strings get a coded answer', async () => {
    // Percent-encoded UTF-8 of the string (lone surrogates become U+FFFD, as any client must send
    // them), plus raw encodings that are not UTF-8 at all.
    const param = fc.oneof(
      hostileString.map(percentEncode),
      fc.constantFrom('..', '%2e%2e', '%00', '%C3%28', '%FF%FE', '%', '%zz', 'run_' + 'x'.repeat(5000), 'x'.repeat(20_000)),
    );
    const query = fc.dictionary(fc.constantFrom('limit', 'after', 'after_seq', 'topic', 'page_token', 'page_size', 'x', 'limit[]', '__proto__'), hostileString.map((s) => s.replace(/[\ud800-\udfff]/g, '\ufffd')), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), param, query, async (route, value, params) => {
        const encoded = value;
        const [path, existing] = pathOf(route, { run: encoded, worker: encoded, org: encoded, token: encoded }).split('?');
        const search = new URLSearchParams(existing);
        for (const [key, v] of Object.entries(params)) search.append(key, v);
        await expectWellHandled(
          route,
          () =>
            rawRequest(`${system.urls[route.app]}${path}?${search.toString()}`, {
              method: route.method,
              headers: { ...(route.method === 'POST' ? { 'content-type': 'application/json' } : {}), ...authHeader(route) },
              body: route.method === 'POST' ? JSON.stringify(route.valid) : undefined,
            }),
          { value, params },
        );
      }),
      fuzzParameters(Math.max(20, Math.floor(FUZZ_RUNS / 2))),
    );
  }, FUZZ_TIMEOUT_MS);

  it('pins what the fuzzer found: NUL and unpaired surrogates, 10k-deep bodies, NUL in paths, 16 KiB+ URLs', async () => {
    const cases: [string, string, string, number, string][] = [
      ['runtime', 'POST', '/api/runtime/runs', 400, JSON.stringify({ metadata: { note: 'a\u0000b' } })],
      ['runtime', 'POST', '/api/runtime/runs', 400, JSON.stringify({ metadata: { note: 'a\ud800b' } })],
      ['runtime', 'POST', '/api/runtime/runs', 400, JSON.stringify({ metadata: { ['k\u0000']: 1 } })],
      ['runtime', 'POST', '/api/runtime/runs', 400, deepJson(10_000, 'object')],
      ['control', 'POST', '/api/sync/token', 400, deepJson(10_000, 'array')],
      ['control', 'POST', `/api/tokens/tok%00x/revoke`, 400, '{}'],
      ['runtime', 'GET', `/api/runtime/runs/run_%00`, 400, ''],
    ];
    for (const [app, method, path, status, body] of cases) {
      const before = await writes();
      const res = await rawRequest(`${system.urls[app as AppName]}${path}`, {
        method,
        headers: { authorization: `Bearer ${tenant.accessToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body || undefined,
      });
      expect({ path, body: body.slice(0, 40), status: res.status, code: res.json?.code }).toEqual({ path, body: body.slice(0, 40), status, code: 'validation_failed' });
      expect(await writes()).toEqual(before);
    }
    // Nesting up to the limit and well-formed astral characters are fine.
    const nested = JSON.parse(deepJson(60, 'object')) as Record<string, unknown>;
    expect((await call('runtime', 'POST', '/api/runtime/runs', { metadata: { nested, emoji: '😀 é \u202e' } }, tenant.accessToken)).status).toBe(201);
    known = undefined;
    for (const [app] of Object.entries(system.urls)) {
      const res = await rawRequest(`${system.urls[app as AppName]}/health/live?pad=${'x'.repeat(20_000)}`);
      expect({ app, status: res.status, code: res.json?.code }).toEqual({ app, status: 431, code: 'headers_too_large' });
      expect(isCodedError(res.json)).toBe(true);
    }
  });

  it('oversize bodies are 413 payload_too_large on every app, before any parsing', async () => {
    const cases: [AppName, string, number][] = [
      ['control', '/api/tokens', 1024 * 1024 + 1],
      ['runtime', '/api/runtime/runs', 16 * 1024 * 1024 + 1],
      ['gateway', '/api/sync/snapshot', 1024 * 1024 + 1],
    ];
    for (const [app, path, size] of cases) {
      const before = await writes();
      const body = Buffer.alloc(size, 0x20);
      body[0] = 0x7b;
      body[size - 1] = 0x7d;
      const res = await rawRequest(`${system.urls[app]}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.accessToken}` }, body });
      expect({ app, status: res.status, code: res.json?.code }).toEqual({ app, status: 413, code: 'payload_too_large' });
      expect(isCodedError(res.json)).toBe(true);
      expect(await writes()).toEqual(before);
    }
  });

  it('every app is still healthy and serves a well-behaved request afterwards', async () => {
    for (const app of ['control', 'runtime', 'gateway'] as const) {
      expect((await rawRequest(`${system.urls[app]}/health/ready`)).status).toBe(200);
    }
    const before = await footprint(db, tenant.orgId, tenant.userId);
    const run = await call('runtime', 'POST', '/api/runtime/runs', { thread_id: 'after-fuzz' }, tenant.accessToken);
    expect(run.status).toBe(201);
    expect((await footprint(db, tenant.orgId, tenant.userId)).events).toBe(before.events + 1);
    expect((await call('control', 'GET', '/api/me', undefined, tenant.accessToken)).json).toMatchObject({ user_id: tenant.userId });
  });
});
