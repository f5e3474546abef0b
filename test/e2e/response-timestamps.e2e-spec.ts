import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { call, CONTROL_TEST_ENV, Reply, signUp } from '../control/control-client';
import { startTestSystem } from '../support/system';

/** RFC 3339 in UTC with `Z`: the one timestamp format of every HTTP response. */
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
/** What a timestamp looks like whatever its offset, so a `+00:00` anywhere is caught, not skipped. */
const LOOKS_LIKE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;
/** Field names that carry an instant. */
const TIME_FIELD = /(_at|_time|timestamp)$/;

interface Found {
  path: string;
  value: unknown;
}

/** Every timestamp-looking field of a body: named like one, or a string shaped like one. */
function timestampsIn(value: unknown, path = '$'): Found[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => timestampsIn(item, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => {
      const here = `${path}.${key}`;
      const nested = timestampsIn(child, here);
      const named = TIME_FIELD.test(key) && (child === null || typeof child !== 'object');
      return named && !nested.some((found) => found.path === here) ? [{ path: here, value: child }, ...nested] : nested;
    });
  }
  return typeof value === 'string' && LOOKS_LIKE_TIME.test(value) ? [{ path, value }] : [];
}

/** Polls until the read model caught up (no timing assertion: the test only waits). */
const retry = async <T>(attempt: () => Promise<Reply<T>>, until: (reply: Reply<T>) => boolean): Promise<Reply<T>> => {
  for (;;) {
    const reply = await attempt();
    if (until(reply)) return reply;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('every HTTP response carries its timestamps as RFC 3339 UTC ending in Z', () => {
  let system: RunningSystem;
  /** route → body, for every response the walk below checks. */
  const responses = new Map<string, unknown>();

  beforeAll(async () => {
    // Projectors on (the read routes are part of the walk), sign-up throttling relaxed as in control's tests.
    system = await startTestSystem({ AUTH_IP_BURST: CONTROL_TEST_ENV.AUTH_IP_BURST, AUTH_IP_PER_MINUTE: CONTROL_TEST_ENV.AUTH_IP_PER_MINUTE });
  });
  afterAll(() => system.stop());

  const record = <T>(route: string, reply: Reply<T>, status: number): T => {
    if (reply.status !== status) throw new Error(`${route}: ${reply.status} ${JSON.stringify(reply.body)}`);
    responses.set(route, reply.body);
    return reply.body;
  };

  it('control, runtime and gateway responses: every timestamp field matches /Z$/, none is an epoch number', async () => {
    const { control, runtime, gateway } = system.urls;
    const signup = await call<{ access_token: string }>(control, 'POST', '/api/auth/signup', {
      body: { email: `ts-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Timestamps' },
    });
    const { access_token: token } = record('POST /api/auth/signup', signup, 201);
    const again = await signUp(control);
    record(
      'POST /api/auth/login',
      await call(control, 'POST', '/api/auth/login', { body: { email: again.email, password: again.password, device_id: 'dev-ts' } }),
      200,
    );
    record('GET /api/me', await call(control, 'GET', '/api/me', { token }), 200);
    const issued = record<{ token_id: string }>(
      'POST /api/tokens',
      await call(control, 'POST', '/api/tokens', { token, body: { name: 'ts', scopes: ['runtime:read'] } }),
      201,
    );
    record('POST /api/tokens/{id}/revoke', await call(control, 'POST', `/api/tokens/${issued.token_id}/revoke`, { token, body: {} }), 200);
    record('GET /api/tokens', await call(control, 'GET', '/api/tokens', { token }), 200);
    const sync = record<{ data: { token: string } }>(
      'POST /api/sync/token',
      await call(control, 'POST', '/api/sync/token', { token, body: {} }),
      200,
    );
    record('GET /api/auth/sessions', await call(control, 'GET', '/api/auth/sessions', { token }), 200);

    const run = record<{ run_id: string }>('POST /api/runtime/runs', await call(runtime, 'POST', '/api/runtime/runs', { token, body: {} }), 201);
    record(
      'POST /api/runtime/runs/{id}/frames',
      await call(runtime, 'POST', `/api/runtime/runs/${run.run_id}/frames`, {
        token,
        body: { frames: [{ frame_id: 'f1', type: 'run.started', payload: {} }, { frame_id: 'f2', type: 'run.finished', payload: {} }] },
      }),
      202,
    );
    const finished = (reply: Reply<{ finished_at?: string | null }>) => reply.status === 200 && Boolean(reply.body.finished_at);
    record('GET /api/runtime/runs/{id}', await retry(() => call(runtime, 'GET', `/api/runtime/runs/${run.run_id}`, { token }), finished), 200);
    record('GET /api/runtime/runs', await call(runtime, 'GET', '/api/runtime/runs', { token }), 200);
    record('GET /api/runtime/runs/{id}/events', await call(runtime, 'GET', `/api/runtime/runs/${run.run_id}/events`, { token }), 200);

    const worker = record<{ worker_id: string }>(
      'POST /api/runtime/codex/workers',
      await call(runtime, 'POST', '/api/runtime/codex/workers', { token, body: { workspace_ref: 'ws', adapter: 'test' } }),
      201,
    );
    record(
      'POST /api/runtime/codex/workers/{id}/heartbeat',
      await call(runtime, 'POST', `/api/runtime/codex/workers/${worker.worker_id}/heartbeat`, { token, body: {} }),
      202,
    );
    const beating = (reply: Reply<{ last_heartbeat_at?: string | null }>) => reply.status === 200 && Boolean(reply.body.last_heartbeat_at);
    record(
      'GET /api/runtime/codex/workers/{id}',
      await retry(() => call(runtime, 'GET', `/api/runtime/codex/workers/${worker.worker_id}`, { token }), beating),
      200,
    );
    record('GET /api/runtime/codex/workers', await call(runtime, 'GET', '/api/runtime/codex/workers', { token }), 200);
    record(
      'GET /api/runtime/codex/workers/{id}/snapshot',
      await call(runtime, 'GET', `/api/runtime/codex/workers/${worker.worker_id}/snapshot`, { token }),
      200,
    );
    record(
      'GET /api/sync/snapshot',
      await call(gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', { token: sync.data.token }),
      200,
    );

    const found = [...responses].flatMap(([route, body]) => timestampsIn(body).map((f) => ({ route, ...f })));
    const wrong = found.filter((f) => !(f.value === null || (typeof f.value === 'string' && RFC3339_UTC.test(f.value))));
    expect(wrong).toEqual([]);
    // The walk is not vacuous: each kind of instant the API serves was seen, with a value.
    const seen = new Set(found.filter((f) => f.value !== null).map((f) => f.path.replace(/\[\d+\]/g, '[]').split('.').pop()));
    for (const field of ['expires_at', 'issued_at', 'created_at', 'revoked_at', 'started_at', 'updated_at', 'finished_at', 'recorded_at', 'last_heartbeat_at', 'occurred_at'])
      expect([...seen]).toContain(field);
  });

  it('the committed OpenAPI documents declare every *_at field as a date-time string', () => {
    const undeclared: string[] = [];
    for (const app of ['control', 'runtime', 'gateway']) {
      const document = JSON.parse(readFileSync(join(__dirname, `../../docs/openapi/${app}.json`), 'utf8')) as {
        components: { schemas: Record<string, { properties?: Record<string, { type?: string; format?: string }> }> };
      };
      for (const [schema, { properties = {} }] of Object.entries(document.components.schemas))
        for (const [name, property] of Object.entries(properties))
          if (TIME_FIELD.test(name) && !(property.type === 'string' && property.format === 'date-time')) undeclared.push(`${app} ${schema}.${name}`);
    }
    expect(undeclared).toEqual([]);
  });
});
