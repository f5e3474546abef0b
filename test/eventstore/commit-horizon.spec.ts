import { widenXid } from '../../libs/eventstore/src/postgres/commit-horizon';

const EPOCH = 4294967296n;

describe('widenXid (32-bit xids from pg_locks → 64-bit, relative to the snapshot xmax)', () => {
  it('keeps an older xid of the same epoch', () => {
    expect(widenXid(100n, 150n)).toBe(100n);
    expect(widenXid(100n, 3n * EPOCH + 150n)).toBe(3n * EPOCH + 100n);
  });

  it('ignores an xid assigned after the snapshot (at or above xmax): it bounds nothing', () => {
    // Regression: this used to become negative, which as xid8 wrapped to "everything is final".
    expect(widenXid(200n, 150n)).toBeUndefined();
    expect(widenXid(150n, 150n)).toBeUndefined();
    expect(widenXid(5n, EPOCH - 10n)).toBeUndefined(); // the next epoch's xid 5 is newer than xmax
  });

  it('places an xid across an epoch boundary in the previous epoch', () => {
    expect(widenXid(EPOCH - 5n, EPOCH + 10n)).toBe(EPOCH - 5n);
  });
});
