import { useEmulatorWithAdapterAndClient } from './support/emulator-harness';
import { collect, freshCategory, probeEvents } from './support/event-store-conformance';

/**
 * Streams a server deletes or truncates (FAKE emulator, test support only; the deletes and
 * metadata are made with the bare client, as an operator would), read and written through the
 * adapter on both append paths.
 */
describe.each([
  ['BatchAppend', true],
  ['classic Append', false],
])('EventStoreDB adapter on deleted and truncated streams through %s (FAKE emulator)', (_path, batchAppend) => {
  const esdb = useEmulatorWithAdapterAndClient({ batchAppend });

  const revisions = async (stream: string, direction?: 'backwards') =>
    (await collect(esdb.store.readStream(stream, { direction }))).map((event) => event.revision);

  it('a tombstoned stream: reads and appends answer STREAM_DELETED; $all keeps its events', async () => {
    const stream = `${freshCategory()}-1`;
    const events = probeEvents(stream, 2);
    await esdb.store.append(stream, events, { expectedRevision: 'no_stream' });
    await esdb.client.tombstoneStream(stream);
    await expect(collect(esdb.store.readStream(stream))).rejects.toMatchObject({ code: 'STREAM_DELETED', details: { stream } });
    await expect(esdb.store.append(stream, probeEvents(`${stream}/after`, 1), { expectedRevision: 'any' })).rejects.toMatchObject({
      code: 'STREAM_DELETED',
    });
    const inAll = (await collect(esdb.store.readAll())).filter((event) => event.stream === stream);
    expect(inAll.map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('a soft-deleted stream reads as absent and is recreated by no_stream, its revisions carrying on', async () => {
    const stream = `${freshCategory()}-1`;
    await esdb.store.append(stream, probeEvents(stream, 3), { expectedRevision: 'no_stream' });
    await esdb.client.deleteStream(stream);
    await expect(collect(esdb.store.readStream(stream))).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
    const recreated = await esdb.store.append(stream, probeEvents(`${stream}/again`, 2), { expectedRevision: 'no_stream' });
    expect(recreated.nextExpectedRevision).toBe(4n);
    expect(await revisions(stream)).toEqual([3n, 4n]);
  });

  it('$maxCount and truncate-before hide older events from stream reads (both directions), not from $all', async () => {
    const counted = `${freshCategory()}-1`;
    await esdb.store.append(counted, probeEvents(counted, 5), { expectedRevision: 'no_stream' });
    await esdb.client.setStreamMetadata(counted, { maxCount: 2 });
    expect(await revisions(counted)).toEqual([3n, 4n]);
    expect(await revisions(counted, 'backwards')).toEqual([4n, 3n]);

    const truncated = `${freshCategory()}-1`;
    await esdb.store.append(truncated, probeEvents(truncated, 5), { expectedRevision: 'no_stream' });
    await esdb.client.setStreamMetadata(truncated, { truncateBefore: 3 });
    expect(await revisions(truncated)).toEqual([3n, 4n]);
    // The next append still expects the real head.
    await expect(esdb.store.append(truncated, probeEvents(`${truncated}/next`, 1), { expectedRevision: 4n })).resolves.toMatchObject({
      nextExpectedRevision: 5n,
    });
    expect((await collect(esdb.store.readAll())).filter((event) => event.stream === counted)).toHaveLength(5);
  });

  it('$maxAge hides events older than it', async () => {
    const stream = `${freshCategory()}-1`;
    await esdb.store.append(stream, probeEvents(stream, 2), { expectedRevision: 'no_stream' });
    await esdb.client.setStreamMetadata(stream, { maxAge: 2 });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await revisions(stream)).toEqual([]);
    await esdb.store.append(stream, probeEvents(`${stream}/fresh`, 1), { expectedRevision: 1n });
    expect(await revisions(stream)).toEqual([2n]);
  });
});
