import * as grpc from '@grpc/grpc-js';
import { Timestamp } from 'google-protobuf/google/protobuf/timestamp_pb';
import { Empty as ProtoEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import {
  DeadlineExceededError,
  EventStoreDBClient,
  jsonEvent,
  MaxAppendSizeExceededError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { EsdbEmulator, startEsdbEmulator } from '../esdb-emulator/esdb-emulator';
import { freshCategory, probeEvents } from './support/event-store-conformance';
import { disposeBareClient } from './support/emulator-harness';

/**
 * The FAKE emulator's BatchAppend (test support only) against the real client library, and against
 * raw BatchAppend requests where the client never sends what a server must handle (an append left
 * open past its deadline, an append finished in a later request).
 */
describe('FAKE EventStoreDB emulator: BatchAppend', () => {
  let emulator: EsdbEmulator;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    emulator = await startEsdbEmulator({ maxAppendSize: 4_096 });
    client = EventStoreDBClient.connectionString(emulator.connectionString);
  });
  afterAll(async () => {
    await disposeBareClient(client);
    await emulator.stop();
  });

  const events = (key: string, count: number) =>
    probeEvents(key, count).map((event) => jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }));

  async function readIds(stream: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const resolved of client.readStream(stream)) ids.push(resolved.event!.id);
    return ids;
  }

  it('is listed in ServerFeatures, so the client sends appends through it', async () => {
    const before = { ...emulator.appendsServed };
    const stream = `${freshCategory()}-1`;
    await client.appendToStream(stream, events(stream, 2), { expectedRevision: 'no_stream' });
    expect(emulator.appendsServed.batch).toBe(before.batch + 1);
    expect(emulator.appendsServed.classic).toBe(before.classic);
  });

  it('reassembles an append the client split by batchAppendSize (one request per event) and writes it once, in order', async () => {
    const stream = `${freshCategory()}-1`;
    const proposed = events(stream, 5);
    const before = emulator.appendsServed.batchRequests;
    const result = await client.appendToStream(stream, proposed, { expectedRevision: 'no_stream', batchAppendSize: 1 });
    // The client sends the options alone first, then one event per request, the last one final.
    expect(emulator.appendsServed.batchRequests - before).toBe(6);
    expect(result.nextExpectedRevision).toBe(4n);
    expect(await readIds(stream)).toEqual(proposed.map((event) => event.id));
  });

  it('answers each of many concurrent appends on the one call by its correlation id, with its own expected revision', async () => {
    const category = freshCategory();
    await client.appendToStream(`${category}-shared`, events(`${category}/seed`, 1), { expectedRevision: 'no_stream' });
    // Ten appends to ten streams and ten racing appends expecting revision 0 of one stream.
    const own = Array.from({ length: 10 }, (_, index) =>
      client.appendToStream(`${category}-${index}`, events(`${category}/${index}`, index + 1), { expectedRevision: 'no_stream' }),
    );
    const racing = Array.from({ length: 10 }, (_, index) =>
      client.appendToStream(`${category}-shared`, events(`${category}/race-${index}`, 1), { expectedRevision: 0n }).then(
        (result) => ({ won: true as const, result }),
        (error: unknown) => ({ won: false as const, error }),
      ),
    );
    const ownResults = await Promise.all(own);
    ownResults.forEach((result, index) => expect(result.nextExpectedRevision).toBe(BigInt(index)));
    const outcomes = await Promise.all(racing);
    expect(outcomes.filter((outcome) => outcome.won)).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.won) continue;
      expect(outcome.error).toBeInstanceOf(WrongExpectedVersionError);
      expect((outcome.error as WrongExpectedVersionError).actualVersion).toBe(1n);
      expect((outcome.error as WrongExpectedVersionError).expectedVersion).toBe(0n);
    }
  });

  it('answers Timeout for an append whose deadline has passed, and writes nothing', async () => {
    const stream = `${freshCategory()}-1`;
    const failure = await client
      .appendToStream(stream, events(stream, 1), { expectedRevision: 'no_stream', deadline: 0 })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeadlineExceededError);
    await expect(readIds(stream)).rejects.toThrow(/not found/);
  });

  it('refuses an append over MaxAppendSize with the limit, on both paths', async () => {
    const stream = `${freshCategory()}-1`;
    const big = jsonEvent({ type: 'Big', data: { blob: 'x'.repeat(5_000) } });
    const batch = await client.appendToStream(stream, [big]).catch((error: unknown) => error);
    expect(batch).toBeInstanceOf(MaxAppendSizeExceededError);
    expect((batch as MaxAppendSizeExceededError).maxAppendSize).toBe(4_096);

    const classicEmulator = await startEsdbEmulator({ batchAppend: false, maxAppendSize: 4_096 });
    const classicClient = EventStoreDBClient.connectionString(classicEmulator.connectionString);
    try {
      const classic = await classicClient.appendToStream(stream, [big]).catch((error: unknown) => error);
      expect(classic).toBeInstanceOf(MaxAppendSizeExceededError);
      expect((classic as MaxAppendSizeExceededError).maxAppendSize).toBe(4_096);
      expect(classicEmulator.appendsServed.classic).toBe(1);
    } finally {
      await disposeBareClient(classicClient);
      await classicEmulator.stop();
    }
    await expect(readIds(stream)).rejects.toThrow(/not found/);
  });

  describe('raw requests', () => {
    let raw: StreamsClient;
    beforeAll(() => {
      raw = new StreamsClient(`127.0.0.1:${emulator.port}`, grpc.credentials.createInsecure());
    });
    afterAll(() => raw.close());

    function request(correlation: string, options: { stream: string; deadlineMs: number } | undefined, eventIds: string[], isFinal: boolean) {
      const message = new BatchAppendReq().setCorrelationId(new UUID().setString(correlation)).setIsFinal(isFinal);
      if (options) {
        message.setOptions(
          new BatchAppendReq.Options()
            .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(options.stream, 'utf8')))
            .setNoStream(new ProtoEmpty())
            .setDeadline(Timestamp.fromDate(new Date(Date.now() + options.deadlineMs))),
        );
      }
      message.setProposedMessagesList(
        eventIds.map((id) => {
          const proposed = new BatchAppendReq.ProposedMessage().setId(new UUID().setString(id)).setData(Buffer.from('{}'));
          proposed.getMetadataMap().set('type', 'Raw').set('content-type', 'application/json');
          return proposed;
        }),
      );
      return message;
    }

    it('writes nothing until is_final, then the events of every request of that correlation id', async () => {
      const stream = `${freshCategory()}-1`;
      const ids = probeEvents(stream, 3).map((event) => event.id);
      const call = raw.batchAppend();
      const answers: BatchAppendResp[] = [];
      call.on('data', (response: BatchAppendResp) => answers.push(response));
      call.write(request('11111111-1111-4111-8111-111111111111', { stream, deadlineMs: 5_000 }, ids.slice(0, 2), false));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(readIds(stream)).rejects.toThrow(/not found/);
      expect(answers).toEqual([]);
      call.write(request('11111111-1111-4111-8111-111111111111', undefined, ids.slice(2), true));
      call.end();
      await new Promise((resolve) => call.on('end', resolve));
      expect(answers).toHaveLength(1);
      expect(answers[0].getCorrelationId()!.getString()).toBe('11111111-1111-4111-8111-111111111111');
      expect(Buffer.from(answers[0].getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe(stream);
      expect(answers[0].getSuccess()!.getCurrentRevision()).toBe('2');
      expect(await readIds(stream)).toEqual(ids);
    });

    it('answers Timeout for an append still waiting for its final request at its deadline, and ignores its late chunks', async () => {
      const stream = `${freshCategory()}-1`;
      const call = raw.batchAppend();
      const answers: BatchAppendResp[] = [];
      call.on('data', (response: BatchAppendResp) => answers.push(response));
      call.write(request('22222222-2222-4222-8222-222222222222', { stream, deadlineMs: 100 }, ['a0000000-0000-4000-8000-000000000000'], false));
      await new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error('no Timeout answer')), 5_000);
        const check = setInterval(() => {
          if (answers.length === 0) return;
          clearInterval(check);
          clearTimeout(deadline);
          resolve(undefined);
        }, 10);
      });
      expect(answers[0].getError()!.getDetails()!.getTypeName()).toBe('event_store.client.Timeout');
      call.write(request('22222222-2222-4222-8222-222222222222', undefined, ['b0000000-0000-4000-8000-000000000000'], true));
      call.end();
      await new Promise((resolve) => call.on('end', resolve));
      expect(answers).toHaveLength(1);
      await expect(readIds(stream)).rejects.toThrow(/not found/);
    });
  });
});
