import { connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { Frame, RawPhoenixClient } from '../support/phoenix-client';
import { ALL_SCOPES, freshIdentity, JournalWriter, socketUrl, startGateway, syncToken, TestGateway } from '../gateway/support/gateway-harness';
import { connectTestDatabase } from '../support/test-database';
import type { Database } from '@khala/platform';
import { footprint } from './support/footprint';
import { deepJson, fuzzParameters, FUZZ_TIMEOUT_MS, hostileNumber, hostileString, hostileValue } from './support/hostile-values';
import { rawRequest } from './support/http';

const TOPIC = 'runtime.run_summaries';

/** Every code a refused sync:v1 frame may carry (docs/protocol/README.md §4 plus the gateway's own, see its README). */
const SYNC_CODES = new Set([
  'bad_topic',
  'bad_frame',
  'frame_too_large',
  'not_joined',
  'unknown_event',
  'bad_subscription',
  'forbidden_topic',
  'stale_cursor',
  'rate_limited',
  'reauth_required',
]);

const ref = fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), hostileString, hostileNumber, fc.constant({}), fc.constant([]));
const topic = fc.oneof(fc.constantFrom('sync:v1', 'phoenix', 'sync:v2', ''), hostileString);
const event = fc.oneof(fc.constantFrom('phx_join', 'phx_leave', 'sync:subscribe', 'sync:unsubscribe', 'sync:heartbeat', 'heartbeat', 'phx_reply', 'sync:update_batch'), hostileString);
const topicList = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(TOPIC, 'runtime.notifications', 'run:x:events', 'worker:y:events', `run:${'z'.repeat(300)}:events`), hostileString), { maxLength: 6 }),
  fc.array(fc.constant(TOPIC), { minLength: 65, maxLength: 80 }),
  fc.array(fc.integer().map((i) => `run:${i}:events`), { minLength: 60, maxLength: 70 }),
  hostileValue,
);
const cursor = fc.oneof(hostileNumber, fc.constantFrom('0', '12', '00000000000000001', '99999999999999999', '-1', '1.5', '1e3', ' 1', ''), hostileValue);
const subscribePayload = fc.record(
  {
    topics: topicList,
    resume_after: fc.oneof(fc.dictionary(fc.oneof(fc.constant(TOPIC), hostileString), cursor, { maxKeys: 3 }), fc.array(fc.record({ topic: fc.oneof(fc.constant(TOPIC), hostileString), watermark: cursor }), { maxLength: 3 }), hostileValue),
    replay_batch_size: fc.oneof(hostileNumber, hostileValue),
    request_id: fc.oneof(hostileString, hostileValue),
    frames: hostileValue,
  },
  { requiredKeys: [] },
);
const payload = fc.oneof(subscribePayload, fc.dictionary(hostileString, hostileValue, { maxKeys: 4 }), hostileValue);

/** Frame texts: well-shaped envelopes with hostile fields, wrong arity, non-arrays, non-JSON, deep nesting. */
const frameText = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(ref, ref, topic, event, payload).map((frame) => JSON.stringify(frame)) },
  { weight: 3, arbitrary: fc.tuple(ref, ref, fc.constant('sync:v1'), fc.constantFrom('sync:subscribe', 'sync:unsubscribe'), subscribePayload).map((frame) => JSON.stringify(frame)) },
  { weight: 1, arbitrary: fc.array(hostileValue, { maxLength: 8 }).map((frame) => JSON.stringify(frame)) },
  { weight: 1, arbitrary: hostileValue.map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '[', '[]', '["1","2","sync:v1","sync:heartbeat",{}', 'null', '[1,2,3,4,5]', '["1","2","sync:v1","sync:heartbeat",{}]x', '\ufeff["1","2","phoenix","heartbeat",{}]') },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((depth) => `["1","2","sync:v1","sync:subscribe",{"topics":${deepJson(depth, 'array')}}]`) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((depth) => deepJson(depth, 'object')) },
);

/**
 * Hostile sync:v1 frames against a real gateway (docs/protocol/README.md): every frame is answered, by a
 * reply to its ref or a `sync:error` push, with a documented code (or is a valid request and gets
 * ok); nothing is written; the fuzzed connection stays usable; transport-level abuse (invalid
 * UTF-8, frames over the hard cap) ends in a standard close code; the server and a well-behaved
 * client on another connection are unaffected throughout.
 */
describe('sync:v1 frame fuzzing', () => {
  let gateway: TestGateway;
  let writer: JournalWriter;
  let db: Database;
  const clients: RawPhoenixClient[] = [];

  beforeAll(async () => {
    // Rate limits out of the way: this file is about content, ws-limits.spec.ts about floods.
    gateway = await startGateway({ GATEWAY_RATE_LIMIT_PER_SECOND: '100000', GATEWAY_RATE_LIMIT_BURST: '100000' });
    writer = await JournalWriter.open();
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await db?.close();
    await writer?.close();
    await gateway?.stop();
  });

  async function connect(identity = freshIdentity()): Promise<RawPhoenixClient> {
    const client = await RawPhoenixClient.connect(socketUrl(gateway, await syncToken(gateway.keys, identity, ALL_SCOPES)));
    clients.push(client);
    return client;
  }

  /** Sends one text frame and returns the answer: the first phx_reply or sync:error received after it. */
  async function answerTo(client: RawPhoenixClient, text: string | Buffer, binary = false): Promise<Frame> {
    const seen = client.frames.length;
    client.socket.send(text, { binary });
    return client.waitFor((frame) => client.frames.indexOf(frame) >= seen && (frame[3] === 'phx_reply' || frame[3] === 'sync:error'));
  }

  function expectCoded(answer: Frame, input: unknown): void {
    const body = answer[4] as { status?: string; response?: { code?: unknown }; code?: unknown };
    const code = answer[3] === 'sync:error' ? body.code : body.status === 'error' ? body.response?.code : 'ok';
    if (code !== 'ok' && !SYNC_CODES.has(code as string)) {
      throw new Error(`uncoded answer ${JSON.stringify(answer).slice(0, 300)} to ${JSON.stringify(input).slice(0, 300)}`);
    }
    if (answer[3] === 'phx_reply' && body.status !== 'ok' && body.status !== 'error') throw new Error(`bad reply status ${JSON.stringify(answer)}`);
  }

  it('answers every hostile frame with ok or a documented code, writes nothing, and keeps the connection and a bystander working', async () => {
    const identity = freshIdentity();
    const fuzzed = await connect(identity);
    expect(await fuzzed.join()).toMatchObject({ status: 'ok' });
    const bystanderIdentity = freshIdentity();
    const bystander = await connect(bystanderIdentity);
    expect(await bystander.join()).toMatchObject({ status: 'ok' });
    expect((await bystander.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: 0 } }))[4]).toMatchObject({ status: 'ok' });
    const before = await footprint(db, identity.orgId);

    let delivered = 0;
    await fc.assert(
      fc.asyncProperty(frameText, async (text) => {
        expectCoded(await answerTo(fuzzed, text), text);
        // The bystander keeps receiving its live updates, in order, while the fuzzing goes on.
        if (Math.random() < 0.1) {
          delivered += 1;
          await writer.append(TOPIC, bystanderIdentity.orgId, [{ n: delivered }]);
          await bystander.waitForUpdates(TOPIC, delivered);
        }
      }),
      fuzzParameters(),
    );

    expect(fuzzed.socket.readyState).toBe(WebSocket.OPEN);
    fuzzed.frames.splice(0); // the fuzzed refs reused the client's own ref numbers
    expect((await fuzzed.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
    expect(await fuzzed.join()).toMatchObject({ status: 'ok' });
    expect((await fuzzed.request('sync:v1', 'sync:subscribe', { topics: [TOPIC], resume_after: { [TOPIC]: 0 } }))[4]).toMatchObject({ status: 'ok' });
    expect(await footprint(db, identity.orgId)).toEqual(before);
    expect(bystander.updates(TOPIC).map((update) => update.watermark)).toEqual(Array.from({ length: delivered }, (_, i) => i + 1));
    expect((await rawRequest(`${gateway.url}/health/ready`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);

  it('answers binary frames with bad_frame and 64 KiB..1 MiB frames with frame_too_large, keeping the connection', async () => {
    const client = await connect();
    expect(await client.join()).toMatchObject({ status: 'ok' });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        const answer = await answerTo(client, Buffer.from(bytes), true);
        expect(answer).toEqual([null, null, 'phoenix', 'sync:error', expect.objectContaining({ code: 'bad_frame' })]);
      }),
      fuzzParameters(50),
    );
    for (const size of [64 * 1024 + 1, 200 * 1024, 1024 * 1024 - 64]) {
      const text = JSON.stringify(['1', '7', 'sync:v1', 'sync:heartbeat', { pad: 'x'.repeat(size) }]);
      expect(await answerTo(client, text)).toEqual([null, null, 'phoenix', 'sync:error', expect.objectContaining({ code: 'frame_too_large', max_frame_bytes: 65536 })]);
    }
    expect((await client.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
  }, FUZZ_TIMEOUT_MS);

  /** Writes raw bytes to the gateway's port and returns whatever comes back before it closes. */
  function rawExchange(request: Buffer | string): Promise<string> {
    const port = Number(new URL(gateway.url).port);
    return new Promise((resolve) => {
      let out = '';
      const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
      const timer = setTimeout(() => socket.destroy(), 3000);
      socket.on('data', (chunk: Buffer) => {
        out += chunk.toString('latin1');
        if (out.startsWith('HTTP/1.1 101')) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
  }

  it('answers hostile upgrade requests (paths, query tokens, Origin and Host headers, raw bytes) with 101 or a coded HTTP refusal', async () => {
    const token = await syncToken(gateway.keys, freshIdentity());
    const ascii = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
    const bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const target = fc.oneof(
      fc.constantFrom('/sync/socket/websocket', '/socket/websocket', '/sync/socket/websocket/', '/SYNC/socket/websocket', '*', 'http://[', '//x', '/', '/docs', '/sync/socket/websocket/../websocket'),
      ascii(40).map((path) => `/${path.replace(/ /g, '%20')}`),
    );
    const query = fc.oneof(
      fc.constant(`?token=${token}&vsn=2.0.0`),
      fc.constantFrom('', '?token=', '?token=%E0%A4%A', `?token=${token}&token=x`, `?token=${'a'.repeat(10_000)}`, `?token=${token.slice(0, -3)}abc`),
      hostileString.map((s) => `?token=${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))}`),
    );
    const header = fc.option(fc.oneof(ascii(60), hostileString.map(bytes)), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(target, query, header, header, fc.boolean(), async (path, search, origin, host, wellFormedKey) => {
        const lines = [
          `GET ${path}${search} HTTP/1.1`,
          `Host: ${host ?? '127.0.0.1'}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${wellFormedKey ? 'dGhlIHNhbXBsZSBub25jZQ==' : 'x'}`,
          'Sec-WebSocket-Version: 13',
          ...(origin !== undefined ? [`Origin: ${origin}`] : []),
        ];
        const response = await rawExchange(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
        const status = /^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1];
        if (status === '101') return;
        const body = response.slice(response.indexOf('\r\n\r\n') + 4);
        let code: unknown;
        try {
          code = (JSON.parse(body) as { code?: unknown }).code;
        } catch {
          code = undefined;
        }
        if (!status || Number(status) < 400 || Number(status) >= 500 || typeof code !== 'string') {
          throw new Error(`uncoded upgrade answer ${JSON.stringify(response.slice(0, 300))} to ${JSON.stringify(lines).slice(0, 300)}`);
        }
      }),
      fuzzParameters(),
    );
    expect((await rawRequest(`${gateway.url}/health/live`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);

  it('closes with 1009 above the 1 MiB hard cap and 1007 on invalid UTF-8 text, and nothing else is affected', async () => {
    const bystander = await connect();
    expect(await bystander.join()).toMatchObject({ status: 'ok' });

    const huge = await connect();
    huge.socket.send(Buffer.alloc(1024 * 1024 + 1, 0x20), { binary: false });
    expect((await huge.closed).code).toBe(1009);

    for (const bytes of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const bad = await connect();
      bad.socket.send(Buffer.from([0x5b, ...bytes, 0x5d]), { binary: false });
      expect((await bad.closed).code).toBe(1007);
    }
    expect((await bystander.request('phoenix', 'heartbeat', {}))[4]).toEqual({ status: 'ok', response: {} });
    expect((await rawRequest(`${gateway.url}/health/live`)).status).toBe(200);
  });
});
