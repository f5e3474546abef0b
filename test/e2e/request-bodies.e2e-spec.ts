import { RunningSystem } from '../../apps/embedded/src/embedded';
import { CONTROL_TEST_ENV, signUp, SignedUp } from '../control/control-client';
import { startTestSystem } from '../support/system';

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
  let system: RunningSystem;
  let user: SignedUp;
  beforeAll(async () => {
    system = await startTestSystem(CONTROL_TEST_ENV);
    user = await signUp(system.urls.control);
  });
  afterAll(() => system.stop());

  it.each([
    ['a string', '"hello"', 'a string'],
    ['a number', '42', 'a number'],
    ['null', 'null', 'null'],
    ['a boolean', 'true', 'a boolean'],
    ['an array', '[1, 2]', 'an array'],
  ])('a body that is %s gets one message naming what it is, on control and on runtime', async (_kind, json, named) => {
    for (const [base, path] of [
      [system.urls.control, '/api/auth/login'],
      [system.urls.runtime, '/api/runtime/runs'],
    ] as const) {
      const reply = await post(base, path, json, user.access_token);
      const message = `the request body must be a JSON object, not ${named}`;
      expect(reply).toEqual({
        status: 400,
        body: { code: 'validation_failed', message, details: [{ field: '', errors: [message] }], correlation_id: expect.any(String) },
      });
    }
  });

  it('several invalid fields: exactly one message per field', async () => {
    const reply = await post(system.urls.control, '/api/auth/login', JSON.stringify({ email: 7, password: 'x' }));
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
    const fields = reply.body.details!.map((detail) => detail.field).sort();
    expect(fields).toEqual([...new Set(fields)]);
    expect(fields).toEqual(expect.arrayContaining(['device_id', 'email']));
    for (const detail of reply.body.details!) expect(detail.errors).toHaveLength(1);
    expect(reply.body.details!.find((detail) => detail.field === 'device_id')!.errors).toEqual(['device_id is required']);
  });

  it('malformed JSON stays malformed_json', async () => {
    const reply = await post(system.urls.control, '/api/auth/login', '{"email": ');
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('malformed_json');
  });
});
