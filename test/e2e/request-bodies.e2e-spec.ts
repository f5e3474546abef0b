import { useSystemWithUser } from '../control/control-client';

interface ErrorBody {
  code: string;
  message: string;
  details?: { field: string; errors: string[] }[];
}

/** Sends raw JSON text, so bodies that are not objects (a bare string, number, null) reach the server as written. */
async function post(base: string, path: string, json: string, token?: string): Promise<{ status: number; body: ErrorBody }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: json,
  });
  return { status: response.status, body: (await response.json()) as ErrorBody };
}

describe('request bodies that are not JSON objects, and invalid fields', () => {
  const the = useSystemWithUser();

  it.each([
    ['a string', '"hello"', 'a string'],
    ['a number', '42', 'a number'],
    ['null', 'null', 'null'],
    ['a boolean', 'true', 'a boolean'],
    ['an array', '[1, 2]', 'an array'],
  ])('a body that is %s gets one message naming what it is, on control and on runtime', async (_kind, json, named) => {
    for (const [base, path] of [
      [the.system.urls.control, '/api/auth/login'],
      [the.system.urls.runtime, '/api/runtime/runs'],
    ] as const) {
      const reply = await post(base, path, json, the.user.access_token);
      const message = `the request body must be a JSON object, not ${named}`;
      expect(reply).toEqual({
        status: 400,
        body: { code: 'validation_failed', message, details: [{ field: '', errors: [message] }], correlation_id: expect.any(String) },
      });
    }
  });

  it('several invalid fields: exactly one message per field', async () => {
    const reply = await post(the.system.urls.control, '/api/auth/login', JSON.stringify({ email: 7, password: 'x' }));
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
    const fields = reply.body.details!.map((detail) => detail.field).sort();
    expect(fields).toEqual([...new Set(fields)]);
    expect(fields).toEqual(expect.arrayContaining(['device_id', 'email']));
    for (const detail of reply.body.details!) expect(detail.errors).toHaveLength(1);
    expect(reply.body.details!.find((detail) => detail.field === 'device_id')!.errors).toEqual(['device_id is required']);
  });

  it('malformed JSON stays malformed_json', async () => {
    const reply = await post(the.system.urls.control, '/api/auth/login', '{"email": ');
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('malformed_json');
  });

  // The apps moved from express to Fastify; these are the express behaviours callers relied on.
  describe('conventions kept across the HTTP adapter', () => {
    const runs = () => `${the.system.urls.runtime}/api/runtime/runs`;
    const headers = () => ({ 'content-type': 'application/json', authorization: `Bearer ${the.user.access_token}` });

    it('a __proto__ key, at any depth, is refused (validation would not see it: it would become the prototype of the DTO)', async () => {
      for (const json of ['{"__proto__": {"admin": true}}', '{"metadata": {"a": {"__proto__": {"x": 1}}}}']) {
        const reply = await post(the.system.urls.runtime, '/api/runtime/runs', json, the.user.access_token);
        expect({ json, status: reply.status, code: reply.body.code }).toEqual({ json, status: 400, code: 'validation_failed' });
      }
    });

    it('a body in another charset is 415, and an empty JSON body reaches validation', async () => {
      const latin1 = await fetch(runs(), { method: 'POST', headers: { ...headers(), 'content-type': 'application/json; charset=latin1' }, body: '{}' });
      expect({ status: latin1.status, code: ((await latin1.json()) as ErrorBody).code }).toEqual({ status: 415, code: 'unsupported_media_type' });
      const empty = await fetch(runs(), { method: 'POST', headers: headers(), body: '' });
      expect(empty.status).toBe(201); // create-run takes an empty body as {}
    });

    it('routing is case-insensitive with an optional trailing slash, and a long path parameter reaches the route', async () => {
      const created = await fetch(runs(), { method: 'POST', headers: headers(), body: '{}' });
      const { run_id } = (await created.json()) as { run_id: string };
      const frames = (id: string, type: string) => JSON.stringify({ frames: [{ frame_id: id, type, payload: {} }] });
      for (const [index, path] of [`/api/runtime/runs/${run_id}/frames/`, `/API/Runtime/Runs/${run_id}/Frames`].entries()) {
        const sent = await fetch(`${the.system.urls.runtime}${path}`, { method: 'POST', headers: headers(), body: frames(`f-${index}`, index === 0 ? 'run.started' : 'run.text_delta') });
        expect({ path, status: sent.status }).toEqual({ path, status: 202 });
      }
      const long = await fetch(`${runs()}/run_${'x'.repeat(5000)}/frames`, { method: 'POST', headers: headers(), body: frames('f-2', 'run.started') });
      // The route answers (no such run), not the router: Fastify's default would 404 any parameter over 100 characters.
      expect({ status: long.status, code: ((await long.json()) as ErrorBody).code }).toEqual({ status: 404, code: 'run_not_found' });
    });
  });
});
