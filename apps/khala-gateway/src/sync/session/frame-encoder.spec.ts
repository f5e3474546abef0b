import { openagents, parsePhoenixFrame } from '@khala/contracts';
import { FeedChunk } from '../topic-feeds';
import { encodeRow } from '../update-batch';
import { encoderForJoin } from './frame-encoder';

const v1 = openagents.sync.v1;
const rows = [1, 2].map((watermark) =>
  encodeRow('t', { watermark, doc_key: `d:${watermark}`, doc_version: 1, payload: `{"n":${watermark}}`, payload_hash: 'sha256:x', hydration_required: false }),
);

function counter(): () => number {
  let seq = 0;
  return () => ++seq;
}

describe('the frame encoder chosen at join', () => {
  it('without frames: plain Phoenix pushes under the join_ref, the batch JSON spliced in', () => {
    const encoder = encoderForJoin({}, '3', counter());
    const batch = parsePhoenixFrame(encoder.batch('t', rows, false, 9));
    expect(batch).toEqual({
      ok: true,
      message: {
        joinRef: '3',
        ref: null,
        topic: 'sync:v1',
        event: 'sync:update_batch',
        payload: {
          updates: rows.map(({ row }) => ({ topic: 't', ...row, payload: JSON.parse(row.payload!) })),
          replay_complete: false,
          head_watermarks: [{ topic: 't', watermark: 9 }],
        },
      },
    });
    expect(JSON.parse(encoder.push('sync:error', 'sync_error', 't', { code: 'stale_cursor' }))).toEqual(['3', null, 'sync:v1', 'sync:error', { code: 'stale_cursor' }]);
  });

  it('without frames: a feed chunk is the same Buffer for every subscriber of one join_ref', () => {
    const chunk = new FeedChunk('t', 0, rows, 2);
    const first = encoderForJoin({}, '1', counter()).chunk(chunk);
    expect(encoderForJoin({}, '1', counter()).chunk(chunk)).toBe(first);
    expect(JSON.parse(first.toString())).toEqual(JSON.parse(encoderForJoin({}, '1', counter()).batch('t', rows, true, 2)));
  });

  it('with frames: KhalaFrames numbered per connection, each carrying the binary message of its kind', () => {
    const nextSeq = counter();
    const encoder = encoderForJoin({ frames: true }, '1', nextSeq);
    const frames = [
      encoder.batch('t', rows, true, 2),
      encoder.chunk(new FeedChunk('t', 0, rows, 2)) as string,
      encoder.push('sync:heartbeat', 'heartbeat_reply', 'sync:v1', { watermarks: [{ topic: 't', watermark: 2 }] }),
    ].map((text) => JSON.parse(text) as [string, null, string, string, { topic: string; seq: number; kind: string; payload: string; schema_version: number }]);
    expect(frames.map(([joinRef, , topic, event, payload]) => [joinRef, topic, event, payload.topic, payload.seq, payload.kind])).toEqual([
      ['1', 'sync:v1', 'sync:frame', 't', 1, 'update_batch'],
      ['1', 'sync:v1', 'sync:frame', 't', 2, 'update_batch'],
      ['1', 'sync:v1', 'sync:frame', 'sync:v1', 3, 'heartbeat_reply'],
    ]);
    const batch = v1.UpdateBatch.decode(Buffer.from(frames[0][4].payload, 'base64'));
    expect(batch.updates.map((update) => update.watermark)).toEqual([1, 2]);
    expect(v1.HeartbeatReply.decode(Buffer.from(frames[2][4].payload, 'base64')).watermarks).toEqual([expect.objectContaining({ topic: 't', watermark: 2 })]);
    // A second join on the connection continues the sequence.
    const again = JSON.parse(encoderForJoin({ frames: true }, '5', nextSeq).push('sync:error', 'sync_error', 'sync:v1', { code: 'token_expired' }));
    expect([again[0], again[4].seq, again[4].kind]).toEqual(['5', 4, 'sync_error']);
  });
});
