import { randomUUID } from 'node:crypto';
import type { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';

/** Small fetch helpers for control's HTTP API in tests. */
export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, headers: response.headers };
}

export interface SignedUp {
  user_id: string;
  org_id: string;
  session_id: string;
  device_id: string;
  access_token: string;
  email: string;
  password: string;
}

export const freshEmail = (label = 'user') => `${label}-${randomUUID().slice(0, 8)}@Example.com`;

export async function signUp(controlUrl: string, overrides: Record<string, unknown> = {}): Promise<SignedUp> {
  const email = (overrides.email as string) ?? freshEmail();
  const password = (overrides.password as string) ?? 'correct horse battery';
  const reply = await call(controlUrl, 'POST', '/api/auth/signup', { body: { email, password, name: 'Test User', ...overrides } });
  if (reply.status !== 201) throw new Error(`signup failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { ...(reply.body as unknown as SignedUp), email, password };
}

export async function logIn(controlUrl: string, email: string, password: string, deviceId: string, orgId?: string) {
  return call<{ access_token: string; session_id: string; org_id: string; user_id: string; device_id: string }>(
    controlUrl,
    'POST',
    '/api/auth/login',
    { body: { email, password, device_id: deviceId, ...(orgId ? { org_id: orgId } : {}) } },
  );
}

export function createRun(runtimeUrl: string, token: string, headers: Record<string, string> = {}) {
  return call<{ run_id: string; code?: string }>(runtimeUrl, 'POST', '/api/runtime/runs', { token, body: {}, headers });
}

/** Polls until `check` passes or the deadline is over; returns the last value either way. */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, deadlineMs: number): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() >= until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Environment for control test systems: a generous per-IP budget, since every test client is 127.0.0.1. */
export const CONTROL_TEST_ENV = { RUNTIME_PROJECTORS: 'off', AUTH_IP_BURST: '100000', AUTH_IP_PER_MINUTE: '100000' };

/**
 * The embedded system (control's test settings) and one signed-up user, for one describe block:
 * `harness.system`, `harness.user`.
 */
export function useSystemWithUser(): { readonly system: RunningSystem; readonly user: SignedUp } {
  const harness = {} as { system: RunningSystem; user: SignedUp };
  beforeAll(async () => {
    harness.system = await startTestSystem(CONTROL_TEST_ENV);
    harness.user = await signUp(harness.system.urls.control);
  });
  afterAll(() => harness.system?.stop());
  return harness;
}
