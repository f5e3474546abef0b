import WebSocket from 'ws';
import { KhalaClient, MemoryWatermarkStore, SyncErrorPayload, Update, WebSocketConstructor } from '@khala/khala-client';
import { RawPhoenixClient } from '../support/phoenix-client';
import { freshIdentity, socketUrl, syncToken, TestIdentity, useGatewayAndWriter } from './support/gateway-harness';
import { eventually, withinDeadline } from './support/conditions';

/**
 * A device with no watermark meets a topic whose oldest updates retention already removed
 * (docs/protocol/README.md §7, §10): the subscribe reply says where the retained stream starts
 * (retained_from), the SDK takes retained_from - 1 as its base, applies what is retained in order
 * and goes live. And whatever goes wrong, the SDK never resubscribes a topic in a loop.
 */
describe('a new device after retention', () => {
  const TOPIC = 'runtime.run_events';
  const harness = useGatewayAndWriter();

  /** run_events 1..12 with retention past 5: the floor is 6, the head 12. */
  async function agedTopic(): Promise<TestIdentity> {
    const identity = freshIdentity();
    await harness.writer.append(TOPIC, identity.orgId, Array.from({ length: 12 }, (_, i) => ({ n: i + 1 })));
    await harness.writer.prune(TOPIC, identity.orgId, 6);
    return identity;
  }

  /** The `ws` WebSocket, counting the sync:subscribe frames the client sends and able to drop frames it receives. */
  function instrumentedWebSocket(dropIncoming: (text: string) => boolean = () => false): { WebSocket: WebSocketConstructor; subscribes: () => number } {
    let subscribes = 0;
    class Counting extends WebSocket {
      constructor(url: string) {
        super(url);
        // ws dispatches to onmessage through the 'message' listener it installs; wrap the setter.
        let handler: ((event: { data: unknown }) => void) | null = null;
        Object.defineProperty(this, 'onmessage', {
          get: () => handler,
          set: (next: ((event: { data: unknown }) => void) | null) => {
            handler = next;
            this.removeAllListeners('message');
            if (next) this.on('message', (data: Buffer) => !dropIncoming(data.toString()) && next({ data: data.toString() }));
          },
        });
        const send = this.send.bind(this);
        this.send = ((data: string) => {
          if (data.includes('"sync:subscribe"')) subscribes += 1;
          send(data);
        }) as WebSocket['send'];
      }
    }
    return { WebSocket: Counting as unknown as WebSocketConstructor, subscribes: () => subscribes };
  }

  it('the subscribe reply says, per topic, where the retained stream starts', async () => {
    const identity = await agedTopic();
    const client = await RawPhoenixClient.connect(socketUrl(harness.gateway, await syncToken(harness.gateway.keys, identity)));
    try {
      expect(await client.join()).toMatchObject({ status: 'ok' });
      const reply = await client.request('sync:v1', 'sync:subscribe', { topics: [TOPIC] });
      expect(reply[4]).toMatchObject({
        status: 'ok',
        response: { current_watermarks: [{ topic: TOPIC, watermark: 12 }], retained_from: [{ topic: TOPIC, watermark: 6 }] },
      });
      expect(client.updates(TOPIC).map((update) => update.watermark)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    } finally {
      await client.close();
    }
  });

  it('an SDK client with an empty watermark store applies 6..12, goes live, and subscribes a bounded number of times', async () => {
    const identity = await agedTopic();
    const socket = instrumentedWebSocket();
    const client = new KhalaClient({ url: harness.gateway.wsUrl, token: () => syncToken(harness.gateway.keys, identity), topics: [TOPIC], store: new MemoryWatermarkStore(), WebSocket: socket.WebSocket });
    const applied: number[] = [];
    const errors: unknown[] = [];
    client.on('update', (update: Update) => applied.push(update.watermark));
    client.on('error', (error) => errors.push(error));
    try {
      await withinDeadline(client.start(), 'start()');
      expect(applied).toEqual([6, 7, 8, 9, 10, 11, 12]);
      expect(client.watermark(TOPIC)).toBe(12);

      await harness.writer.append(TOPIC, identity.orgId, [{ n: 13 }, { n: 14 }]);
      await eventually(() => applied.length === 9);
      expect(applied).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14]);
      expect(socket.subscribes()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      client.stop();
    }
  });

  it('never loops: a topic that keeps arriving with a gap is resubscribed at most the limit, then halted with an error naming it', async () => {
    const identity = freshIdentity();
    await harness.writer.append(TOPIC, identity.orgId, Array.from({ length: 5 }, (_, i) => ({ n: i + 1 })));
    // A broken middlebox that always loses the batch holding watermark 3: every replay has a gap.
    const socket = instrumentedWebSocket((text) => text.includes('"sync:update_batch"') && text.includes(`"topic":"${TOPIC}"`) && text.includes('"watermark":3,'));
    const store = new MemoryWatermarkStore();
    store.set(TOPIC, 0);
    const client = new KhalaClient({
      url: harness.gateway.wsUrl,
      token: () => syncToken(harness.gateway.keys, identity),
      topics: [TOPIC, 'runtime.notifications'],
      store,
      WebSocket: socket.WebSocket,
      replayBatchSize: 2,
      resubscribeLimit: { max: 4, windowMs: 60_000 },
    });
    const errors: SyncErrorPayload[] = [];
    const closes: number[] = [];
    client.on('error', (error) => errors.push(error as SyncErrorPayload));
    client.on('status', (status) => status === 'reconnecting' && closes.push(1));
    try {
      // The healthy topic still goes live.
      await withinDeadline(client.start(), 'start()');
      await eventually(() => errors.some((error) => error.code === 'resubscribe_limit'));
      expect(errors.filter((error) => error.code === 'resubscribe_limit')).toEqual([expect.objectContaining({ code: 'resubscribe_limit', topic: TOPIC })]);
      const afterHalt = socket.subscribes();
      expect(afterHalt).toBeLessThanOrEqual(1 + 4);
      expect(client.watermark(TOPIC)).toBe(2);

      // Still connected and live for the other topic; the halted one is left alone.
      await harness.writer.append('runtime.notifications', identity.orgId, [{ hello: 1 }]);
      await eventually(() => client.watermark('runtime.notifications') === 1);
      await harness.writer.append(TOPIC, identity.orgId, [{ n: 6 }]);
      await harness.writer.append('runtime.notifications', identity.orgId, [{ hello: 2 }]);
      await eventually(() => client.watermark('runtime.notifications') === 2);
      expect(socket.subscribes()).toBe(afterHalt);
      expect(closes).toEqual([]);
      expect(client.status).toBe('live');
    } finally {
      client.stop();
    }
  });
});
