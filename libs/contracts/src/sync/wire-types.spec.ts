import { openagents, SNAPSHOT_FORMAT, SyncErrorPayload } from '@khala/contracts';

const v1 = openagents.sync.v1;
const JSON_OPTIONS = { longs: String, enums: String, bytes: String, json: true };

/**
 * The SyncErrorPayload type the gateway and the SDK share is derived from the generated SyncError
 * and SlowConsumer messages: a payload of that type survives the binary encoding field for field.
 */
describe('sync wire types generated from proto/openagents/sync', () => {
  it('a stale_cursor payload (with refused topics) is exactly a SyncError', () => {
    const payload: SyncErrorPayload = {
      code: 'stale_cursor',
      message: 'cursor cannot be resumed; bootstrap from the snapshot or resubscribe',
      full_resync_required: true,
      reason_codes: ['retention_floor_breach'],
      stale_topics: [
        {
          topic: 'runtime.run_summaries',
          reason: 'retention_floor_breach',
          qos_tier: 'snapshot_backed',
          resume_after: 2,
          retention_floor: 5,
          head_watermark: 9,
          replay_lag: 7,
          replay_budget_events: 20000,
        },
      ],
      snapshot_plan: { format: SNAPSHOT_FORMAT, topics: [{ topic: 'runtime.run_summaries', head_watermark: 9, snapshot_url: '/api/sync/snapshot?topic=runtime.run_summaries' }] },
      refused_topics: [{ topic: 'run:x:events', code: 'forbidden_topic', message: 'not allowed to subscribe to this topic' }],
    };
    const bytes = v1.SyncError.encode(v1.SyncError.fromObject(payload)).finish();
    expect(v1.SyncError.toObject(v1.SyncError.decode(bytes), JSON_OPTIONS)).toEqual(payload);
  });

  it('the topics of a cursor-ahead bad_subscription are a SyncError field', () => {
    const payload: SyncErrorPayload = { code: 'bad_subscription', message: 'resume_after is ahead of the head watermark', topics: ['run:r1:events'] };
    const bytes = v1.SyncError.encode(v1.SyncError.fromObject(payload)).finish();
    expect(v1.SyncError.toObject(v1.SyncError.decode(bytes), JSON_OPTIONS)).toEqual(payload);
  });

  it('a slow_consumer push is exactly a SlowConsumer', () => {
    const payload: SyncErrorPayload = { code: 'slow_consumer', action: 'disconnect', topic: 't', queue_depth: 2000000, queue_limit: 1048576, reconnect_after_ms: 1500 };
    const bytes = v1.SlowConsumer.encode(v1.SlowConsumer.fromObject(payload)).finish();
    expect(v1.SlowConsumer.toObject(v1.SlowConsumer.decode(bytes), JSON_OPTIONS)).toEqual(payload);
  });
});
