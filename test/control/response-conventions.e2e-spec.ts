import { call, useSystemWithUser } from './control-client';

/** RFC 3339 in UTC with `Z`: the one timestamp format of every response. */
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

interface ValidationBody {
  code: string;
  message: string;
  details: { field: string; errors: string[] }[];
}

describe('response conventions across control and runtime', () => {
  const the = useSystemWithUser();

  it('session and API token timestamps are RFC 3339 UTC with Z, never +00:00', async () => {
    const issued = await call<{ created_at: string }>(the.system.urls.control, 'POST', '/api/tokens', {
      token: the.user.access_token,
      body: { name: 'ci', scopes: ['runtime:read'] },
    });
    expect(issued.status).toBe(201);
    expect(issued.body.created_at).toMatch(RFC3339_UTC);
    const tokens = await call<{ tokens: { token_id: string; created_at: string; revoked_at: string | null }[] }>(
      the.system.urls.control,
      'GET',
      '/api/tokens',
      { token: the.user.access_token },
    );
    expect(tokens.body.tokens).toHaveLength(1);
    expect(tokens.body.tokens[0].created_at).toMatch(RFC3339_UTC);
    const revoked = await call(the.system.urls.control, 'POST', `/api/tokens/${tokens.body.tokens[0].token_id}/revoke`, {
      token: the.user.access_token,
      body: {},
    });
    expect(revoked.status).toBe(200);
    const after = await call<{ tokens: { revoked_at: string | null }[] }>(the.system.urls.control, 'GET', '/api/tokens', { token: the.user.access_token });
    expect(after.body.tokens[0].revoked_at).toMatch(RFC3339_UTC);

    const sessions = await call<{ sessions: { started_at: string; revoked_at: string | null }[] }>(
      the.system.urls.control,
      'GET',
      '/api/auth/sessions',
      { token: the.user.access_token },
    );
    expect(sessions.body.sessions.length).toBeGreaterThan(0);
    for (const session of sessions.body.sessions) expect(session.started_at).toMatch(RFC3339_UTC);
  });

  it('a missing required field gets exactly one message, saying it is required', async () => {
    const reply = await call<ValidationBody>(the.system.urls.control, 'POST', '/api/auth/login', {
      body: { email: the.user.email, password: the.user.password },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
    expect(reply.body.details).toEqual([{ field: 'device_id', errors: ['device_id is required'] }]);
  });

  it('a field with several broken rules gets one message, the one about its kind', async () => {
    const reply = await call<ValidationBody>(the.system.urls.control, 'POST', '/api/auth/login', {
      body: { email: the.user.email, password: the.user.password, device_id: 42 },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.details).toEqual([{ field: 'device_id', errors: ['device_id must be a string'] }]);
  });

  it.each([
    ['control', '/api/auth/login'],
    ['runtime', '/api/runtime/runs'],
  ] as const)('a JSON array body on %s gets one clear message, not one per element', async (app, path) => {
    const reply = await call<ValidationBody>(the.system.urls[app], 'POST', path, {
      token: the.user.access_token,
      body: [{ email: the.user.email }, 2, 3],
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
    expect(reply.body.message).toBe('the request body must be a JSON object, not an array');
    expect(reply.body.details).toEqual([{ field: '', errors: ['the request body must be a JSON object, not an array'] }]);
    expect(JSON.stringify(reply.body)).not.toContain('should not exist');
  });

  it('runtime command and read responses carry RFC 3339 UTC timestamps', async () => {
    const created = await call<{ run_id: string }>(the.system.urls.runtime, 'POST', '/api/runtime/runs', { token: the.user.access_token, body: {} });
    expect(created.status).toBe(201);
    const events = await call<{ events: { recorded_at: string }[] }>(
      the.system.urls.runtime,
      'GET',
      `/api/runtime/runs/${created.body.run_id}/events`,
      { token: the.user.access_token },
    );
    expect(events.body.events.length).toBeGreaterThan(0);
    for (const event of events.body.events) expect(event.recorded_at).toMatch(RFC3339_UTC);
  });
});
