import WebSocket from 'ws';
import { Writable } from 'node:stream';
import { correlationIdFrom, createLogger } from '@khala/platform';
import { RawPhoenixClient } from '../support/phoenix-client';
import { LoggedSystem, startLoggedSystem } from '../support/processes/logged-system';
import { jsonCall, rawRequest } from './support/http';

/**
 * Tokens and passwords never reach a log line (docs/protocol/README.md §1): a realistic session (signup,
 * login, a failed login, API and sync token issue, commands with bearer tokens and an API token,
 * sync sockets with the token in the query and in a header, refusals with bad tokens) runs against
 * the real entry point at LOG_LEVEL=trace, and the captured output is scanned for every secret used
 * and for anything shaped like one.
 */
describe('no credentials in logs', () => {
  let system: LoggedSystem;

  beforeAll(async () => {
    // Everything the apps can say, framework messages included.
    system = await startLoggedSystem({ LOG_LEVEL: 'trace' });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('a whole session at LOG_LEVEL=trace logs no token, API token or password', async () => {
    const { control, runtime, gateway } = system.urls;
    const suffix = Math.random().toString(36).slice(2, 10);
    const email = `logs-${suffix}@example.com`;
    const password = `Pw-${suffix}-correct-horse`;
    const wrongPassword = `Wrong-${suffix}-battery-staple`;
    const secrets: string[] = [password, wrongPassword];

    const signup = await jsonCall(control, 'POST', '/api/auth/signup', { email, password, name: 'Logs' });
    expect(signup.status).toBe(201);
    secrets.push(signup.json.access_token);
    const login = await jsonCall(control, 'POST', '/api/auth/login', { email, password, device_id: 'laptop-1' });
    expect(login.status).toBe(200);
    const access = login.json.access_token as string;
    secrets.push(access);
    expect((await jsonCall(control, 'POST', '/api/auth/login', { email, password: wrongPassword, device_id: 'laptop-1' })).status).toBe(401);
    // A refused body that carries a password (validation error path).
    expect((await jsonCall(control, 'POST', '/api/auth/signup', { email: 'not-an-email', password, name: 'x' })).status).toBe(400);
    expect((await jsonCall(control, 'POST', '/api/auth/signup', { email, password, name: 'Logs', extra: password })).status).toBe(400);

    const apiToken = await jsonCall(control, 'POST', '/api/tokens', { name: 'ci', scopes: ['runtime:read', 'runtime:write'] }, access);
    expect(apiToken.status).toBe(201);
    secrets.push(apiToken.json.token);
    const sync = await jsonCall(control, 'POST', '/api/sync/token', { scopes: ['runtime.run_summaries'] }, access);
    expect(sync.status).toBe(200);
    const syncToken = sync.json.data.token as string;
    secrets.push(syncToken);

    const run = await jsonCall(runtime, 'POST', '/api/runtime/runs', { metadata: { k: 'v' } }, access, { 'idempotency-key': `idem-${suffix}` });
    expect(run.status).toBe(201);
    expect(
      (await jsonCall(runtime, 'POST', `/api/runtime/runs/${run.json.run_id}/frames`, { frames: [{ frame_id: 'f1', type: 'run.started', payload: {} }] }, apiToken.json.token)).status,
    ).toBe(202);
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, apiToken.json.token)).status).toBe(200);
    expect((await jsonCall(gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', undefined, syncToken)).status).toBe(200);

    // Refusals: a forged JWT, a token of the wrong audience, a garbage API token, bad sync sockets.
    const [header, body] = access.split('.');
    const forged = `${header}.${body}.${Buffer.from(`forged-${suffix}`).toString('base64url')}`;
    secrets.push(forged);
    const fakeApiToken = `oa_pat_${Buffer.from(`fake-${suffix}-0123456789abcdef0123456789`).toString('base64url')}`;
    secrets.push(fakeApiToken);
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, forged)).status).toBe(401);
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, syncToken)).status).toBe(401);
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, fakeApiToken)).status).toBe(401);
    expect((await jsonCall(gateway, 'GET', '/api/sync/snapshot?topic=runtime.run_summaries', undefined, access)).status).toBe(401);
    // A token in a query string of an HTTP route (a client mistake) is not logged either.
    expect((await rawRequest(`${runtime}/api/runtime/runs?token=${access}&access_token=${access}`)).status).toBe(401);

    const wsBase = `${gateway.replace('http', 'ws')}/sync/socket/websocket`;
    const socket = await RawPhoenixClient.connect(`${wsBase}?token=${syncToken}&vsn=2.0.0`);
    expect(await socket.join()).toMatchObject({ status: 'ok' });
    expect((await socket.request('sync:v1', 'sync:subscribe', { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': 0 } }))[4]).toMatchObject({ status: 'ok' });
    // A token pasted into a frame payload is not echoed into logs either.
    expect((await socket.request('sync:v1', 'sync:subscribe', { topics: [syncToken] }))[4]).toMatchObject({ status: 'error' });
    await socket.close();
    const headerSocket = new WebSocket(`${wsBase}?vsn=2.0.0`, { headers: { authorization: `Bearer ${syncToken}` } });
    await new Promise((resolve, reject) => headerSocket.once('open', resolve).once('error', reject));
    await new Promise((resolve) => {
      headerSocket.once('close', resolve); // the server has handled the close (and logged what it logs of it)
      headerSocket.close();
    });
    await expect(RawPhoenixClient.connect(`${wsBase}?token=${forged}&vsn=2.0.0`)).rejects.toMatchObject({ status: 401 });
    await expect(RawPhoenixClient.connect(`${wsBase}?token=${access}&vsn=2.0.0`)).rejects.toMatchObject({ status: 401 });

    // Credentials sent where they do not belong: as a correlation id (API tokens match its charset).
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, access, { 'x-correlation-id': apiToken.json.token })).status).toBe(200);

    // Lines reach the pipe in the order they were logged: once this request's line is there, so is every earlier one.
    const flushMarker = `logs-flush-${suffix}`;
    expect((await jsonCall(runtime, 'GET', '/api/runtime/runs', undefined, access, { 'x-correlation-id': flushMarker })).status).toBe(200);
    await system.logged(`"correlation_id":"${flushMarker}"`);
    const output = system.output();
    const lines = output.split('\n');
    // The run is real: request logs are there (so an empty capture cannot pass).
    expect(lines.some((line) => line.includes('"path":"/api/auth/login"'))).toBe(true);
    expect(lines.some((line) => line.includes('"path":"/api/runtime/runs"'))).toBe(true);

    const leaks: string[] = [];
    for (const secret of secrets) {
      for (const fragment of [secret, secret.split('.')[2]].filter((part): part is string => !!part && part.length >= 16)) {
        const line = lines.find((candidate) => candidate.includes(fragment));
        if (line) leaks.push(`secret ${fragment.slice(0, 12)}…: ${line.slice(0, 400)}`);
      }
    }
    for (const line of lines) {
      if (/eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/.test(line)) leaks.push(`JWT-shaped: ${line.slice(0, 400)}`);
      if (/oa_pat_[\w-]{16,}/.test(line)) leaks.push(`API-token-shaped: ${line.slice(0, 400)}`);
      // JSON log lines only: the startup banner's curl example carries a sample password.
      if (line.startsWith('{') && /"(password|authorization|token|access_token)":"(?!\[redacted\])/.test(line)) leaks.push(`credential field: ${line.slice(0, 400)}`);
    }
    expect(leaks).toEqual([]);
  }, 120_000);
});

describe('the redaction layer', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const pat = 'oa_pat_AAAAbbbbCCCCddddEEEEffff0123456789-_xyzXYZ0123';

  it('scrubs credential-shaped text anywhere in a line, not only under known field names', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('test', 'trace', sink);
    logger.error({ err: new Error(`verification failed for ${jwt}`) }, 'request failed');
    logger.info({ headers: { 'x-api-key': pat }, note: `Bearer ${jwt}` }, `token ${pat} refused`);
    logger.info({ token: 'plain-token-value', nested: { password: 'hunter2-hunter2', authorization: 'Bearer x' } }, 'fields');
    const text = lines.join('');
    expect(text).not.toContain(jwt);
    expect(text).not.toContain(jwt.split('.')[2]);
    expect(text).not.toContain(pat);
    expect(text).not.toContain('plain-token-value');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('[redacted]');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('never takes a token as a correlation id (it is logged, echoed and stored in event metadata)', () => {
    expect(correlationIdFrom(pat)).not.toBe(pat);
    expect(correlationIdFrom(jwt)).not.toBe(jwt);
    expect(correlationIdFrom('req-123:abc')).toBe('req-123:abc');
  });
});
