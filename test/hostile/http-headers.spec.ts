import WebSocket from 'ws';
import { OriginPolicy } from '@khala/platform';
import type { RunningSystem } from '../../apps/embedded/src/embedded';
import { Database } from '@khala/platform';
import { accessTokenFor, freshIdentity, startTestSystem, syncTokenFor } from '../support/system';
import { connectTestDatabase } from '../support/test-database';
import { footprint } from './support/footprint';
import { isCodedError, jsonCall, rawRequest } from './support/http';

const ALLOWED = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

/** Opens a sync socket with the given headers; resolves with the upgrade status (101 when opened). */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}

/** Security headers, CORS and the WebSocket Origin check on all three apps (CORS_ORIGINS set to one origin). */
describe('security headers, CORS and Origin policy', () => {
  let system: RunningSystem;
  let db: Database;

  beforeAll(async () => {
    system = await startTestSystem({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` });
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(async () => {
    await db?.close();
    await system?.stop();
  });

  const apps = () => Object.entries(system.urls);

  it('every JSON route gets a strict CSP, nosniff, DENY framing and no X-Powered-By', async () => {
    for (const [name, url] of apps()) {
      for (const path of ['/health/live', '/metrics', '/no/such/route']) {
        const res = await rawRequest(`${url}${path}`);
        expect({ name, path, csp: res.headers['content-security-policy'] }).toEqual({
          name,
          path,
          csp: "default-src 'none';frame-ancestors 'none'",
        });
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['referrer-policy']).toBe('no-referrer');
        expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      }
      const error = await rawRequest(`${url}/no/such/route`);
      expect(error.status).toBe(404);
      expect(isCodedError(error.json)).toBe(true);
    }
  });

  it('/docs serves Swagger UI whose every script and stylesheet loads from the same origin under its CSP', async () => {
    for (const [, url] of apps()) {
      const page = await rawRequest(`${url}/docs`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(page.headers['x-powered-by']).toBeUndefined();
      // script-src 'self' forbids inline scripts: every <script> must have a src.
      expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      const assets = [...page.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((match) => match[1]);
      expect(assets.length).toBeGreaterThanOrEqual(3);
      for (const asset of assets) {
        expect(asset).not.toMatch(/^(https?:)?\/\//); // same origin only
        const res = await rawRequest(new URL(asset, `${url}/docs`).toString());
        expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      }
      const spec = await rawRequest(`${url}/docs-json`);
      expect(spec.status).toBe(200);
      expect(spec.json).toMatchObject({ openapi: expect.any(String) });
    }
  });

  it('answers a preflight from an allowed origin and refuses one from any other with a coded 403', async () => {
    for (const [, url] of apps()) {
      const preflight = await rawRequest(`${url}/api/runtime/runs`, {
        method: 'OPTIONS',
        headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('authorization');
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(preflight.headers.vary)).toContain('Origin');

      const refused = await rawRequest(`${url}/api/runtime/runs`, {
        method: 'OPTIONS',
        headers: { origin: EVIL, 'access-control-request-method': 'POST' },
      });
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({ code: 'origin_not_allowed' });
      expect(isCodedError(refused.json)).toBe(true);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('a request from a foreign origin changes nothing; the allowed and the same origin are served with CORS headers', async () => {
    const identity = freshIdentity();
    const token = await accessTokenFor(system, identity);
    const events = async () => (await footprint(db, identity.orgId)).events;

    const evil = await jsonCall(system.urls.runtime, 'POST', '/api/runtime/runs', {}, token, { origin: EVIL });
    expect(evil.status).toBe(403);
    expect(evil.json).toMatchObject({ code: 'origin_not_allowed' });
    expect(await events()).toBe(0);

    const allowed = await jsonCall(system.urls.runtime, 'POST', '/api/runtime/runs', {}, token, { origin: ALLOWED });
    expect(allowed.status).toBe(201);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(allowed.headers['access-control-expose-headers'])).toContain('x-correlation-id');

    const same = await jsonCall(system.urls.runtime, 'POST', '/api/runtime/runs', {}, token, { origin: system.urls.runtime });
    expect(same.status).toBe(201);
    expect(await events()).toBe(2);

    const sandboxed = await jsonCall(system.urls.runtime, 'GET', '/api/runtime/runs', undefined, token, { origin: 'null' });
    expect(sandboxed.status).toBe(403);
  });

  it('refuses a sync socket upgrade from a foreign Origin with 403 before any token check; allows none, listed and same origin', async () => {
    const identity = freshIdentity();
    const token = await syncTokenFor(system, identity, ['runtime.run_summaries']);
    const url = `${system.urls.gateway.replace('http', 'ws')}/sync/socket/websocket?token=${token}&vsn=2.0.0`;
    const evil = await upgrade(url, { origin: EVIL });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body)).toMatchObject({ code: 'origin_not_allowed' });
    // A foreign origin without a token is still 403, not 401: the Origin is checked first.
    expect((await upgrade(url.replace(/token=[^&]+/, 'token=x'), { origin: EVIL })).status).toBe(403);

    expect((await upgrade(url, {})).status).toBe(101);
    expect((await upgrade(url, { origin: ALLOWED })).status).toBe(101);
    expect((await upgrade(url, { origin: 'http://localhost:5173' })).status).toBe(101);
    expect((await upgrade(url, { origin: system.urls.gateway })).status).toBe(101);
    expect((await upgrade(url.replace(/token=[^&]+/, 'token=x'), { origin: ALLOWED })).status).toBe(401);
    // Health is unaffected by the refusals.
    expect((await rawRequest(`${system.urls.gateway}/health/live`)).status).toBe(200);
  });
});

describe('OriginPolicy', () => {
  it('unset CORS_ORIGINS means same-origin only; requests without Origin are always allowed', () => {
    const policy = OriginPolicy.fromList(undefined);
    expect(policy.allows({})).toBe(true);
    expect(policy.allows({ origin: 'http://127.0.0.1:3001', host: '127.0.0.1:3001' })).toBe(true);
    expect(policy.allows({ origin: 'http://127.0.0.1:3002', host: '127.0.0.1:3001' })).toBe(false);
    expect(policy.allows({ origin: 'null', host: '127.0.0.1:3001' })).toBe(false);
    expect(policy.allows({ origin: 'http://127.0.0.1:3001' })).toBe(false);
  });

  it('matches listed origins exactly (case and trailing slash aside) and * allows any', () => {
    const policy = OriginPolicy.fromList(' https://App.example.com/ ,http://localhost:5173');
    expect(policy.allows({ origin: 'https://app.example.com', host: 'api' })).toBe(true);
    expect(policy.allows({ origin: 'http://localhost:5173', host: 'api' })).toBe(true);
    expect(policy.allows({ origin: 'https://app.example.com.evil.net', host: 'api' })).toBe(false);
    expect(policy.allows({ origin: 'http://app.example.com', host: 'api' })).toBe(false);
    expect(OriginPolicy.fromList('*').allows({ origin: 'https://anything.example', host: 'api' })).toBe(true);
  });
});
