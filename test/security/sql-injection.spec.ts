import { randomUUID } from 'node:crypto';
import { RunningSystem } from '../../apps/embedded/src/embedded';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { call, Reply, signUp, SignedUp } from '../control/control-client';
import { oa } from '../cli/support/oa';
import { RawPhoenixClient } from '../support/phoenix-client';
import { startTestSystem } from '../support/system';
import { connectTestDatabase } from '../support/test-database';

/**
 * SQL injection probes on every filter, query and path parameter an outsider can reach (runtime
 * lists, run events, snapshot, control routes, WS topics) and on the CLI's event filters. Every
 * probe gets a validation error, a not-found or an empty result: never a 500, never another
 * org's data; stored text round-trips byte for byte; the schema is the same afterwards.
 */
const PAYLOADS = [
  "' OR 1=1--",
  "' OR '1'='1",
  '" OR ""="',
  "1; DROP TABLE runtime.run_summaries;--",
  "x'; DROP SCHEMA khala CASCADE;--",
  "' UNION SELECT document::text, org_id, 1, 1 FROM runtime.run_summaries--",
  "') UNION ALL SELECT NULL,NULL,NULL--",
  "'; SELECT pg_sleep(3);--",
  "1 AND (SELECT 1 FROM pg_sleep(3)) IS NULL",
  "$$; COPY (SELECT 1) TO PROGRAM 'id'; $$",
  '\\',
  "\\'",
  "\\' OR 1=1 --",
  '\u0000',
  "abc\u0000' OR 1=1--",
  '\u02bc OR \u02bc1\u02bc=\u02bc1',
  '\uff07 OR 1=1--',
  '%',
  '_',
  '*',
  '../../etc/passwd',
  '1e309',
  '-1',
  '9223372036854775808',
  'NaN',
  '$1',
  '\ud83d\ude00\u202e',
];

describe('SQL injection probes', () => {
  let system: RunningSystem;
  let db: Database;
  let victim: SignedUp;
  let attacker: SignedUp;
  let ownRunId: string;
  const secret = `SECRET-A-${randomUUID()}`;
  const replies: { probe: string; reply: Reply }[] = [];
  let schemaBefore: string[];

  const schemaFingerprint = async () => {
    const { rows } = await db.query<{ c: string }>(
      `SELECT table_schema || '.' || table_name || '.' || column_name || ':' || data_type AS c FROM information_schema.columns
        WHERE table_schema IN ('eventstore', 'control', 'runtime', 'khala', 'public') ORDER BY 1`,
    );
    return rows.map((row) => row.c);
  };

  const probe = async (label: string, app: 'control' | 'runtime' | 'gateway', method: string, path: string, body?: unknown, token = attacker.access_token) => {
    const reply = await call(system.urls[app], method, path, { token, body });
    replies.push({ probe: `${label} ${method} ${path}`, reply });
    expect({ probe: label, status: reply.status < 500 ? 'not 5xx' : reply.status, body: reply.status < 500 ? '' : reply.body }).toEqual({
      probe: label,
      status: 'not 5xx',
      body: '',
    });
    return reply;
  };

  beforeAll(async () => {
    system = await startTestSystem({ GATEWAY_RATE_LIMIT_PER_SECOND: '1000', GATEWAY_RATE_LIMIT_BURST: '1000', GATEWAY_RATE_LIMIT_FLOOD_FRAMES: '10000' });
    db = await connectTestDatabase({ max: 2 });
    victim = await signUp(system.urls.control);
    attacker = await signUp(system.urls.control);
    await call(system.urls.runtime, 'POST', '/api/runtime/runs', { token: victim.access_token, body: { metadata: { secret } } });
    ownRunId = (await call(system.urls.runtime, 'POST', '/api/runtime/runs', { token: attacker.access_token, body: {} })).body.run_id as string;
    schemaBefore = await schemaFingerprint();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await system?.stop();
  });

  it('runtime list, read and event routes: query and path parameters', async () => {
    for (const payload of PAYLOADS) {
      const q = encodeURIComponent(payload);
      await probe(payload, 'runtime', 'GET', `/api/runtime/runs?after=${q}`);
      await probe(payload, 'runtime', 'GET', `/api/runtime/runs?limit=${q}`);
      await probe(payload, 'runtime', 'GET', `/api/runtime/codex/workers?after=${q}&limit=${q}`);
      for (const path of [
        `/api/runtime/runs/${q}`,
        `/api/runtime/runs/${q}?min_revision=0`,
        `/api/runtime/runs/${q}/events`,
        `/api/runtime/codex/workers/${q}`,
        `/api/runtime/codex/workers/${q}?min_revision=0`,
        `/api/runtime/codex/workers/${q}/snapshot`,
      ]) {
        expect([400, 404]).toContain((await probe(payload, 'runtime', 'GET', path)).status);
      }
      await probe(payload, 'runtime', 'GET', `/api/runtime/runs/${ownRunId}/events?after_seq=${q}&limit=${q}`);
      expect((await probe(payload, 'runtime', 'GET', `/api/runtime/runs/${ownRunId}?min_revision=${q}`)).status).toBe(400);
    }
  });

  it('runtime commands: path ids, worker ids, frame ids and stored text', async () => {
    for (const payload of PAYLOADS) {
      const q = encodeURIComponent(payload);
      expect([400, 404]).toContain((await probe(payload, 'runtime', 'POST', `/api/runtime/runs/${q}/cancel`, {})).status);
      expect([400, 404]).toContain(
        (await probe(payload, 'runtime', 'POST', `/api/runtime/runs/${q}/frames`, { frames: [{ frame_id: 'f', type: 'run.started', payload: {} }] })).status,
      );
      expect([400, 404]).toContain((await probe(payload, 'runtime', 'POST', `/api/runtime/codex/workers/${q}/heartbeat`, {})).status);
      await probe(payload, 'runtime', 'POST', '/api/runtime/codex/workers', { worker_id: payload, workspace_ref: payload, adapter: payload });
      await probe(payload, 'runtime', 'POST', `/api/runtime/runs/${ownRunId}/frames`, {
        frames: [{ frame_id: payload, type: 'run.text_delta', payload: { text: payload } }],
      });
    }
  });

  it('text that looks like SQL is stored and returned byte for byte (parameterised all the way down)', async () => {
    // Postgres jsonb cannot hold U+0000: that probe must be refused as invalid input, not crash.
    const storable = PAYLOADS.filter((payload) => !payload.includes('\u0000'));
    const metadata = Object.fromEntries(storable.map((payload, index) => [`k${index}`, payload]));
    // thread_id is an id (letters, digits, . _ : -): SQL-looking text is a validation error.
    expect((await probe('thread', 'runtime', 'POST', '/api/runtime/runs', { thread_id: "t' OR 1=1--" })).body).toMatchObject({ code: 'validation_failed' });
    const created = await probe('metadata', 'runtime', 'POST', '/api/runtime/runs', { metadata: { ...metadata, [`' OR 1=1--`]: 'key' } });
    expect(created.status).toBe(201);
    const runId = created.body.run_id as string;
    const read = await probe('metadata', 'runtime', 'GET', `/api/runtime/runs/${runId}/events`);
    expect(read.body).toMatchObject({ events: [{ type: 'RunCreated', data: { metadata: { ...metadata, [`' OR 1=1--`]: 'key' } } }] });
    for (const nul of PAYLOADS.filter((payload) => payload.includes('\u0000'))) {
      const refused = await probe('nul', 'runtime', 'POST', '/api/runtime/runs', { metadata: { nul } });
      expect(refused.status).toBe(400);
    }
  });

  it('snapshot route: topic, page_token and page_size', async () => {
    const sync = (await call(system.urls.control, 'POST', '/api/sync/token', { token: attacker.access_token, body: {} })).body.data as { token: string };
    for (const payload of PAYLOADS) {
      const q = encodeURIComponent(payload);
      expect((await probe(payload, 'gateway', 'GET', `/api/sync/snapshot?topic=${q}`, undefined, sync.token)).status).toBe(400);
      expect(
        (await probe(payload, 'gateway', 'GET', `/api/sync/snapshot?topic=runtime.run_summaries&page_token=${q}`, undefined, sync.token)).status,
      ).toBe(400);
      const sized = await probe(payload, 'gateway', 'GET', `/api/sync/snapshot?topic=runtime.run_summaries&page_size=${q}`, undefined, sync.token);
      expect([200, 400]).toContain(sized.status);
    }
  });

  it('control routes: ids in paths and bodies, emails, scopes', async () => {
    await probe('login', 'control', 'POST', '/api/auth/login', { email: victim.email, password: "x' OR '1'='1", device_id: 'd' }, '');
    for (const payload of PAYLOADS) {
      const q = encodeURIComponent(payload);
      await probe(payload, 'control', 'POST', `/api/orgs/${q}/members`, { email: attacker.email, role: 'member' });
      await probe(payload, 'control', 'POST', `/api/tokens/${q}/revoke`, { reason: payload });
      await probe(payload, 'control', 'POST', '/api/auth/sessions/revoke', { session_ids: [payload], device_ids: [], reason: payload });
      await probe(payload, 'control', 'POST', '/api/sync/token', { scopes: [payload], device_id: payload });
      await probe(payload, 'control', 'POST', '/api/auth/login', { email: payload, password: payload, device_id: payload }, '');
    }
    expect((await call(system.urls.control, 'GET', '/api/me', { token: attacker.access_token })).status).toBe(200);
  }, 60_000);

  it('WS: topics and cursors', async () => {
    const sync = (await call(system.urls.control, 'POST', '/api/sync/token', { token: attacker.access_token, body: {} })).body.data as { token: string };
    const client = await RawPhoenixClient.connect(`${system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket?token=${encodeURIComponent(sync.token)}&vsn=2.0.0`);
    try {
      expect(await client.join()).toMatchObject({ status: 'ok' });
      for (const payload of PAYLOADS) {
        for (const request of [
          { topics: [payload] },
          { topics: [`run:${payload}:events`] },
          { topics: ['runtime.run_summaries'], resume_after: { 'runtime.run_summaries': payload } },
          { topics: ['runtime.run_summaries'], resume_after: { [payload]: 0 } },
        ]) {
          const reply = (await client.request('sync:v1', 'sync:subscribe', request))[4];
          expect(reply).toMatchObject({ status: 'error', response: { code: expect.stringMatching(/^(bad_subscription|forbidden_topic)$/) } });
        }
      }
      expect(JSON.stringify(client.frames)).not.toContain(secret);
    } finally {
      await client.close();
    }
  });

  it("the CLI's event filters (category, type) are parameters too: they select nothing else", async () => {
    const store = new PostgresEventStore(db);
    for (const payload of PAYLOADS.filter((p) => !p.includes('\u0000'))) {
      const seen: string[] = [];
      for await (const event of store.readAll({ filter: { streamPrefixes: [`${payload}-`, payload], eventTypes: [payload] }, maxCount: 10 })) seen.push(event.stream);
      expect(seen).toEqual([]);
    }
  });

  it('`oa events read` passes hostile filters through as data: nothing matches, nothing crashes', async () => {
    const hostile = ["' OR 1=1--", '%', "run'; DROP TABLE eventstore.events;--"];
    const result = await oa(['events', 'read', '--all', ...hostile.flatMap((p) => ['--category', p]), '--type', "' OR '1'='1", '--limit', '5']);
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr.trim() }).toEqual({ code: 0, stdout: '', stderr: 'no events matched' });
  }, 60_000);

  it("no reply carried the victim's data, and the schema and the victim's rows are intact", async () => {
    expect(replies.length).toBeGreaterThan(400);
    for (const { reply } of replies) expect(JSON.stringify(reply.body)).not.toContain(secret);
    expect(await schemaFingerprint()).toEqual(schemaBefore);
    const runs = await call(system.urls.runtime, 'GET', '/api/runtime/runs', { token: victim.access_token });
    expect(runs.body).toMatchObject({ runs: [{ metadata: { secret } }] });
  });
});
