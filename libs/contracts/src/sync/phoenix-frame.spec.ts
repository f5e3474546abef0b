import { encodeFrame, encodeFrameRaw, parsePhoenixFrame, replyFrame } from './phoenix-frame';

describe('Phoenix frame parsing', () => {
  it('keeps the refs of an invalid frame so the error can be a reply', () => {
    expect(parsePhoenixFrame('["1","7","sync:v1","sync:subscribe","x"]')).toEqual({
      ok: false,
      reason: 'payload must be an object',
      joinRef: '1',
      ref: '7',
      topic: 'sync:v1',
    });
    expect(parsePhoenixFrame('{')).toMatchObject({ ok: false, ref: null });
    expect(parsePhoenixFrame('[null,"1","phoenix","heartbeat",{}]')).toMatchObject({ ok: true, message: { topic: 'phoenix', event: 'heartbeat' } });
  });

  it('encodes what it parses; a pre-serialised payload gives the same text as an object one', () => {
    const payload = { topics: ['runtime.run_events'], resume_after: [{ topic: 'runtime.run_events', watermark: 3 }] };
    const text = encodeFrame('1', '2', 'sync:v1', 'sync:subscribe', payload);
    expect(parsePhoenixFrame(text)).toEqual({ ok: true, message: { joinRef: '1', ref: '2', topic: 'sync:v1', event: 'sync:subscribe', payload } });
    expect(encodeFrameRaw('1', '2', 'sync:v1', 'sync:subscribe', JSON.stringify(payload))).toBe(text);
    expect(encodeFrameRaw(null, null, 'sync:v1', 'sync:update_batch', '{"updates":[]}')).toBe('[null,null,"sync:v1","sync:update_batch",{"updates":[]}]');
  });

  it('answers a request on its own refs and topic', () => {
    expect(JSON.parse(replyFrame({ joinRef: '1', ref: '9', topic: 'phoenix' }, 'ok', {}))).toEqual(['1', '9', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  });
});
