import pino from 'pino';
import { ESDB_DEFAULT_MAX_APPEND_SIZE, EsdbEventStore, EventStoreError, requestBodyLimitFor } from '@khala/eventstore';
import { HttpExceptionFilter } from '@khala/platform';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';

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
  const http = new HttpExceptionFilter(pino({ enabled: false }));

  beforeAll(async () => {
    emulator = await startEsdbEmulator({ batchAppend, maxAppendSize: 64 * 1024 });
    store = EsdbEventStore.connect(emulator.connectionString, { reconnectDelayMs: 20 });
  });
  afterAll(async () => {
    await store.close();
    await emulator.stop();
  });

  async function refusal(promise: Promise<unknown>): Promise<EventStoreError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(EventStoreError);
    return error as EventStoreError;
  }

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
});
