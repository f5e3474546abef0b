import { batchLength, encodeRow, MAX_BATCH_BYTES } from './update-batch';

const row = (watermark: number, payload = '{"a":1}') =>
  encodeRow('t', { watermark, doc_key: `d:${watermark}`, doc_version: 1, payload, payload_hash: 'sha256:x', hydration_required: false });

describe('batch bounds', () => {
  it('stops at the update count and the byte budget, but always admits the first update', () => {
    const small = Array.from({ length: 300 }, (_, i) => row(i + 1));
    expect(batchLength(small, 0, 200)).toBe(200);
    expect(batchLength(small, 295, 200)).toBe(5);
    expect(batchLength(small, 0, 200, 7)).toBe(7);
    const huge = [row(1, `"${'x'.repeat(MAX_BATCH_BYTES + 10)}"`), row(2)];
    expect(batchLength(huge, 0, 200)).toBe(1);
  });
});
