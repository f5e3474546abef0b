import { ArgumentsHost, Body, Controller, Inject, INestApplication, Post } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import pino from 'pino';
import {
  ESDB_DEFAULT_MAX_APPEND_SIZE,
  EsdbEventStore,
  EVENT_STORE,
  EventStore,
  EventStoreModule,
  maxAppendSizeOf,
  requestBodyLimitFor,
  toEsdbConnectionString,
} from '@khala/eventstore';
import { HttpExceptionFilter } from '@khala/platform';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';
import { refusal } from './support/emulator-harness';

const NO_DATABASE = Symbol('NO_DATABASE');
const http = new HttpExceptionFilter(pino({ enabled: false }));

/**
 * What the EventStoreDB adapter makes of every refusal a server sends (driven through the FAKE
 * emulator, test support only), on both append paths, and what an HTTP caller then gets: a coded
 * answer, never a 500.
 */
describe.each([
  ['BatchAppend', true],
  ['classic Append', false],
])('EventStoreDB adapter refusals through %s (FAKE emulator)', (_path, batchAppend) => {
  let emulator: EsdbEmulator;
  let store: EsdbEventStore;

  beforeAll(async () => {
    emulator = await startEsdbEmulator({ batchAppend, maxAppendSize: 64 * 1024 });
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
  });
  afterAll(async () => {
    await store.close();
    await emulator.stop();
  });

  it('an append over the server MaxAppendSize → APPEND_TOO_LARGE with the limit → HTTP 413, nothing written', async () => {
    const stream = `${freshCategory()}-1`;
    const [event] = probeEvents(stream, 1);
    const big = { ...event, data: { blob: 'x'.repeat(70 * 1024) } };
    const error = await refusal(store.append(stream, [big], { expectedRevision: 'no_stream' }));
    expect(error).toMatchObject({ code: 'APPEND_TOO_LARGE', details: { stream, maxAppendSize: 64 * 1024 } });
    const answer = http.describe(error);
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ code: 'APPEND_TOO_LARGE' });
    await expect(collect(store.readStream(stream))).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
  });

  it.each([
    ['access_denied', 'ACCESS_DENIED', 403],
    ['stream_deleted', 'STREAM_DELETED', 409],
    ['timeout', 'UNAVAILABLE', 503],
  ] as const)('a server %s refusal → %s → HTTP %i', async (kind, code, status) => {
    const stream = `${freshCategory()}-1`;
    emulator.faults.refuseNextAppend(kind);
    const error = await refusal(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' }));
    expect(error.code).toBe(code);
    if (kind === 'timeout') expect(error.details.reason).toBe('deadline_exceeded');
    const answer = http.describe(error);
    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(code);
    // The refusal was for that append only.
    await expect(store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' })).resolves.toMatchObject({
      nextExpectedRevision: 0n,
    });
  });

  it('"not the leader" → UNAVAILABLE (not_leader) → HTTP 503; the client follows the named leader and the retry lands', async () => {
    const stream = `${freshCategory()}-1`;
    emulator.faults.refuseNextAppend('not_leader');
    const events = probeEvents(stream, 2);
    const error = await refusal(store.append(stream, events, { expectedRevision: 'no_stream' }));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'not_leader' } });
    expect(http.describe(error).status).toBe(503);
    await expect(store.append(stream, events, { expectedRevision: 'no_stream' })).resolves.toMatchObject({ nextExpectedRevision: 1n });
  });

  it('a conflict reaching HTTP unhandled is a 409 whose body serialises (revisions as strings)', async () => {
    const stream = `${freshCategory()}-1`;
    await store.append(stream, probeEvents(stream, 1), { expectedRevision: 'no_stream' });
    const error = await refusal(store.append(stream, probeEvents(`${stream}/b`, 1), { expectedRevision: 'no_stream' }));
    const answer = http.describe(error);
    expect(answer.status).toBe(409);
    expect(JSON.parse(JSON.stringify(answer.body))).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', details: { actual: '0', expected: 'no_stream' } });
  });
});

describe('request cap when the store is EventStoreDB', () => {
  it('caps a body limit at the server default MaxAppendSize on EventStoreDB, and leaves it on Postgres', () => {
    expect(requestBodyLimitFor('esdb://127.0.0.1:2113?tls=false', 16 * 1024 * 1024)).toBe(ESDB_DEFAULT_MAX_APPEND_SIZE);
    expect(requestBodyLimitFor(undefined, 16 * 1024 * 1024)).toBe(16 * 1024 * 1024);
    expect(requestBodyLimitFor('esdb://127.0.0.1:2113?tls=false', 1_000)).toBe(1_000);
  });

  it('takes a server configured otherwise from the URL (maxAppendSize=<bytes>), which the client library never sees', () => {
    const url = 'esdb+discover://app:secret@db:2113?tls=true&maxAppendSize=4194304&tlsCAFile=/ca.crt';
    expect(maxAppendSizeOf(url)).toBe(4_194_304);
    expect(requestBodyLimitFor(url, 16 * 1024 * 1024)).toBe(4_194_304);
    expect(toEsdbConnectionString(url)).toBe('esdb+discover://app:secret@db:2113?tls=true&tlsCAFile=/ca.crt');
    expect(toEsdbConnectionString('kurrentdb://db:2113?maxAppendSize=1')).toBe('esdb://db:2113');
    expect(() => maxAppendSizeOf('esdb://db:2113?maxAppendSize=1MB')).toThrow(/maxAppendSize/);
  });

  describe('against a server that would take more (FAKE emulator)', () => {
    let emulator: EsdbEmulator;
    beforeAll(async () => {
      emulator = await startEsdbEmulator({ maxAppendSize: 4 * 1024 * 1024 });
    });
    afterAll(async () => {
      await emulator.stop();
    });

    it('an append over the configured limit is refused before it is sent (APPEND_TOO_LARGE with the limit), whatever its body had for a length', async () => {
      const store = EsdbEventStore.connect(`${emulator.connectionString}&maxAppendSize=65536`);
      try {
        const stream = `${freshCategory()}-1`;
        const [event] = probeEvents(stream, 1);
        const served = emulator.appendsServed.batch + emulator.appendsServed.classic;
        const error = await store.append(stream, [{ ...event, data: { blob: 'x'.repeat(70 * 1024) } }], { expectedRevision: 'no_stream' }).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ code: 'APPEND_TOO_LARGE', details: { stream, maxAppendSize: 65_536 } });
        expect(emulator.appendsServed.batch + emulator.appendsServed.classic).toBe(served);
        await expect(store.append(stream, [event], { expectedRevision: 'no_stream' })).resolves.toMatchObject({ nextExpectedRevision: 0n });
      } finally {
        await store.close();
      }
    });

    describe.each([
      ['express', () => new ExpressAdapter()],
      ['fastify', () => new FastifyAdapter()],
    ] as const)('HTTP on %s: the guard EventStoreModule registers', (_name, adapter) => {
      let app: INestApplication;
      const handled: number[] = [];

      @Controller()
      class AppendController {
        constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

        @Post('append')
        async append(@Body() body: { text: string }) {
          handled.push(body.text.length);
          const stream = `${freshCategory()}-1`;
          const [event] = probeEvents(stream, 1);
          await this.store.append(stream, [{ ...event, data: { text: body.text } }], { expectedRevision: 'no_stream' });
          return { ok: true };
        }
      }

      beforeAll(async () => {
        const moduleRef = await Test.createTestingModule({
          imports: [
            { global: true, module: class NoDatabaseModule {}, providers: [{ provide: NO_DATABASE, useValue: {} }], exports: [NO_DATABASE] },
            EventStoreModule.forRoot({ database: NO_DATABASE, eventStoreUrl: `${emulator.connectionString}&maxAppendSize=2048` }),
          ],
          controllers: [AppendController],
        }).compile();
        app = moduleRef.createNestApplication(adapter());
        // The platform's mapping (describe), answered through whichever adapter runs: the guard is
        // what is under test here, on both, while the bootstrap moves from express to Fastify.
        const httpAdapter = app.getHttpAdapter();
        app.useGlobalFilters({
          catch(exception: unknown, host: ArgumentsHost) {
            const { status, body } = http.describe(exception);
            httpAdapter.reply(host.switchToHttp().getResponse(), body, status);
          },
        });
        await app.listen(0, '127.0.0.1');
      });
      afterAll(async () => {
        await app.close();
      });

      it('a body over the limit → 413 APPEND_TOO_LARGE before the handler; one under it is stored', async () => {
        const url = `${await app.getUrl()}/append`.replace('[::1]', '127.0.0.1');
        const post = (text: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
        const refused = await post('x'.repeat(4096));
        expect(refused.status).toBe(413);
        expect(await refused.json()).toMatchObject({ code: 'APPEND_TOO_LARGE', details: { maxAppendSize: 2048 } });
        expect(handled).toEqual([]);
        const stored = await post('small');
        expect(stored.status).toBe(201);
        expect(handled).toEqual([5]);
      });
    });
  });
});
