import { google, openagents } from '@khala/contracts';

const sync = openagents.sync.v1;
const JSON_OPTIONS = { longs: String, enums: String, bytes: String, json: true };

describe('proto3 JSON of the generated messages', () => {
  it('maps Struct, Value and ListValue to plain JSON both ways', () => {
    const document = {
      status: 'running',
      n: 1.5,
      ok: false,
      none: null,
      list: [1, ['x'], {}],
      nested: { a: {} },
    };
    const update = sync.Update.fromObject({
      topic: 'runtime.run_summaries',
      payload: document,
      watermark: 3,
    });
    expect(update.payload).toBeInstanceOf(google.protobuf.Value);
    expect(sync.Update.toObject(update, JSON_OPTIONS)).toEqual({
      topic: 'runtime.run_summaries',
      payload: document,
      watermark: 3,
    });
  });

  it('keeps that JSON through the binary encoding', () => {
    const batch = {
      updates: [
        { topic: 't', doc_key: 'run_summary:r1', doc_version: 4, payload: { a: [null, 'b'] }, watermark: 9 },
      ],
      replay_complete: true,
    };
    const bytes = sync.UpdateBatch.encode(sync.UpdateBatch.fromObject(batch)).finish();
    expect(sync.UpdateBatch.toObject(sync.UpdateBatch.decode(bytes), JSON_OPTIONS)).toEqual(batch);
  });

  it('verifies plain JSON where a Struct is expected', () => {
    expect(openagents.runtime.v1.RunCreated.verify({ metadata: { a: [1, { b: null }] } })).toBeNull();
    expect(openagents.runtime.v1.RunCreated.verify({ metadata: 'x' })).toMatch(/metadata/);
    expect(openagents.runtime.v1.RunCreated.verify({ metadata: { a: Infinity } })).toMatch(
      /not a JSON number/,
    );
  });

  it('renders watermarks and JWT times as JSON numbers, not int64 strings', () => {
    const claims = openagents.control.v1.SyncTokenClaims.fromObject({
      sub: 'u1',
      iat: 1_767_225_600,
      exp: 1_767_225_900,
      oa_sync_scopes: ['runtime.run_summaries'],
      oa_claims_version: 1,
    });
    const json = openagents.control.v1.SyncTokenClaims.toObject(claims, JSON_OPTIONS);
    expect(JSON.stringify(json)).toBe(
      '{"sub":"u1","iat":1767225600,"exp":1767225900,"oa_sync_scopes":["runtime.run_summaries"],"oa_claims_version":1}',
    );
    const heartbeat = sync.HeartbeatReply.toObject(
      sync.HeartbeatReply.fromObject({ watermarks: [{ topic: 't', watermark: 2 ** 53 - 1 }] }),
      JSON_OPTIONS,
    );
    expect(heartbeat).toEqual({ watermarks: [{ topic: 't', watermark: Number.MAX_SAFE_INTEGER }] });
  });

  it('sends the KhalaFrame payload as base64 of the binary inner message', () => {
    const inner = sync.UpdateBatch.encode(sync.UpdateBatch.fromObject({ replay_complete: true })).finish();
    const frame = sync.KhalaFrame.fromObject({
      topic: 't',
      seq: 1,
      kind: 'update_batch',
      payload: inner,
      schema_version: 1,
    });
    const json = sync.KhalaFrame.toObject(frame, JSON_OPTIONS);
    expect(json).toEqual({
      topic: 't',
      seq: 1,
      kind: 'update_batch',
      payload: Buffer.from(inner).toString('base64'),
      schema_version: 1,
    });
    const back = sync.KhalaFrame.fromObject(json);
    expect(sync.UpdateBatch.toObject(sync.UpdateBatch.decode(back.payload))).toEqual({
      replay_complete: true,
    });
  });

  it('uses the snake_case names of docs/protocol/README.md', () => {
    const error = sync.SyncError.fromObject({
      code: 'stale_cursor',
      full_resync_required: true,
      reason_codes: ['replay_budget_exceeded'],
      stale_topics: [
        {
          topic: 't',
          reason: 'replay_budget_exceeded',
          resume_after: 1,
          head_watermark: 30000,
          replay_budget_events: 20000,
        },
      ],
      snapshot_plan: {
        format: 'openagents.sync.snapshot.v1',
        topics: [{ topic: 't', head_watermark: 30000, snapshot_url: '/api/sync/snapshot?topic=t' }],
      },
    });
    expect(Object.keys(sync.SyncError.toObject(error, { defaults: true })).sort()).toEqual(
      [
        'code',
        'message',
        'full_resync_required',
        'reason_codes',
        'stale_topics',
        'snapshot_plan',
        'forbidden_topics',
        'refused_topics',
        'retry_after_ms',
        'reauth_required',
        'reason',
        'topics',
      ].sort(),
    );
    expect(sync.SyncError.toObject(error, JSON_OPTIONS).snapshot_plan).toEqual({
      format: 'openagents.sync.snapshot.v1',
      topics: [{ topic: 't', head_watermark: 30000, snapshot_url: '/api/sync/snapshot?topic=t' }],
    });
  });
});
