import { Database } from '@khala/platform';
import { connectTestDatabase } from '../support/test-database';

const EPOCH = 4294967296n;

/** eventstore.widen_xid (migrations/0014), which eventstore.commit_horizon() applies to pg_locks' xids. */
describe('widen_xid (32-bit xids from pg_locks → 64-bit, relative to the snapshot xmax)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 1 });
  });
  afterAll(() => db.close());

  const widen = async (xid32: bigint, xmax: bigint): Promise<bigint | undefined> => {
    const { rows } = await db.query<{ full: string | null }>('SELECT eventstore.widen_xid($1, $2)::text AS full', [xid32.toString(), xmax.toString()]);
    return rows[0].full === null ? undefined : BigInt(rows[0].full);
  };

  it('keeps an older xid of the same epoch', async () => {
    expect(await widen(100n, 150n)).toBe(100n);
    expect(await widen(100n, 3n * EPOCH + 150n)).toBe(3n * EPOCH + 100n);
  });

  it('ignores an xid assigned after the snapshot (at or above xmax): it bounds nothing', async () => {
    // Regression: this used to become negative, which as xid8 wrapped to "everything is final".
    expect(await widen(200n, 150n)).toBeUndefined();
    expect(await widen(150n, 150n)).toBeUndefined();
    expect(await widen(5n, EPOCH - 10n)).toBeUndefined(); // the next epoch's xid 5 is newer than xmax
  });

  it('places an xid across an epoch boundary in the previous epoch', async () => {
    expect(await widen(EPOCH - 5n, EPOCH + 10n)).toBe(EPOCH - 5n);
  });
});
