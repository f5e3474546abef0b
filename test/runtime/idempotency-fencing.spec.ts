import { randomUUID } from 'node:crypto';
import { Database } from '@khala/platform';
import { IdempotencyKeysRepository } from '../../apps/runtime/src/shared/idempotency/idempotency-keys.repository';
import {
  IdempotencyService,
  IdempotentRequest,
} from '../../apps/runtime/src/shared/idempotency/idempotency.service';
import { connectTestDatabase } from '../support/test-database';

/**
 * Idempotency-Key records are fenced by the attempt holding them (issue #10, item 6), on the real
 * runtime.idempotency_keys table as the runtime role. A "stalled" holder is one whose lease ran
 * out while its command was still running (its renewals never came: renewEveryMs is out of reach).
 */
describe('Idempotency-Key records are fenced by the attempt that holds them', () => {
  let admin: Database;
  let runtimeDb: Database;
  let keys: IdempotencyKeysRepository;
  beforeAll(async () => {
    admin = await connectTestDatabase({ max: 1 });
    runtimeDb = await connectTestDatabase({ role: 'khala_runtime', max: 4 });
    keys = new IdempotencyKeysRepository(runtimeDb);
  });
  afterAll(async () => {
    await runtimeDb.close();
    await admin.close();
  });

  const env = { RUNTIME_IDEMPOTENCY_LEASE_SECONDS: 30 };
  /** Holders never renew: their lease runs out exactly when the test says so. */
  const stalledHolders = () => new IdempotencyService(keys, env, { renewEveryMs: 3_600_000 });
  const request = (): IdempotentRequest => ({
    orgId: `org_${randomUUID().slice(0, 8)}`,
    key: `key-${randomUUID()}`,
    method: 'POST',
    path: '/api/runtime/runs/run_x/frames',
    body: { frames: [{ frame_id: 'a' }] },
    status: 202,
  });

  const record = async ({ orgId, key }: IdempotentRequest) =>
    (
      await admin.query<{ state: string; response_body: unknown }>(
        'SELECT state, response_body FROM runtime.idempotency_keys WHERE org_id = $1 AND idempotency_key = $2',
        [orgId, key],
      )
    ).rows[0];
  /** What a clock past the holder's lease looks like to the database. */
  const expireLease = ({ orgId, key }: IdempotentRequest) =>
    admin.query(
      `UPDATE runtime.idempotency_keys SET locked_until = now() - interval '1 second' WHERE org_id = $1 AND idempotency_key = $2`,
      [orgId, key],
    );
  const until = async (condition: () => Promise<boolean> | boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  it('a holder whose lease was taken over cannot store its response: it answers the new holder’s, and so does every later retry', async () => {
    const service = stalledHolders();
    const req = request();
    const [gateA, gateB] = [gate(), gate()];
    let bStarted = false;
    const a = service.execute(req, async () => {
      await gateA.opened;
      return { by: 'A' };
    });
    await until(async () => (await record(req)) !== undefined, 'A to claim the key');
    await expireLease(req);
    const b = service.execute(req, async () => {
      bStarted = true;
      await gateB.opened;
      return { by: 'B' };
    });
    await until(() => bStarted, 'B to take the key over');
    gateA.open();
    gateB.open();
    await expect(b).resolves.toEqual({ by: 'B' });
    await expect(a).resolves.toEqual({ by: 'B' });
    const third = jest.fn(async () => ({ by: 'third' }));
    await expect(service.execute(req, third)).resolves.toEqual({ by: 'B' });
    expect(third).not.toHaveBeenCalled();
    expect(await record(req)).toEqual({ state: 'completed', response_body: { by: 'B' } });
  });

  it('a holder whose lease was taken over cannot release the new holder’s record when its command fails', async () => {
    const service = stalledHolders();
    const req = request();
    const [gateA, gateB] = [gate(), gate()];
    let bStarted = false;
    const a = service.execute(req, async () => {
      await gateA.opened;
      throw new Error('A failed');
    });
    await until(async () => (await record(req)) !== undefined, 'A to claim the key');
    await expireLease(req);
    const b = service.execute(req, async () => {
      bStarted = true;
      await gateB.opened;
      return { by: 'B' };
    });
    await until(() => bStarted, 'B to take the key over');
    gateA.open();
    await expect(a).rejects.toThrow('A failed');
    expect(await record(req)).toEqual({ state: 'pending', response_body: null });
    gateB.open();
    await expect(b).resolves.toEqual({ by: 'B' });
    const third = jest.fn(async () => ({ by: 'third' }));
    await expect(service.execute(req, third)).resolves.toEqual({ by: 'B' });
    expect(third).not.toHaveBeenCalled();
  });

  it('a live holder keeps its lease: a duplicate arriving after the first lease would have run out does not execute the command again', async () => {
    // 2 s lease renewed every ~0.7 s; the duplicate waits 1 s for the holder, then answers 409.
    const service = new IdempotencyService(
      keys,
      { RUNTIME_IDEMPOTENCY_LEASE_SECONDS: 2 },
      { waitForOwnerMs: 1_000 },
    );
    const req = request();
    const gateA = gate();
    const a = service.execute(req, async () => {
      await gateA.opened;
      return { by: 'A' };
    });
    await until(async () => (await record(req)) !== undefined, 'A to claim the key');
    const [{ first_lease_end }] = (
      await admin.query<{ first_lease_end: Date }>(
        'SELECT locked_until AS first_lease_end FROM runtime.idempotency_keys WHERE org_id = $1 AND idempotency_key = $2',
        [req.orgId, req.key],
      )
    ).rows;
    await until(
      async () =>
        (await admin.query<{ now: Date }>('SELECT now()')).rows[0].now.getTime() > first_lease_end.getTime(),
      'the first lease to end',
    );
    const duplicate = jest.fn(async () => ({ by: 'B' }));
    await expect(service.execute(req, duplicate)).rejects.toMatchObject({ code: 'idempotency_in_progress' });
    expect(duplicate).not.toHaveBeenCalled();
    gateA.open();
    await expect(a).resolves.toEqual({ by: 'A' });
    await expect(service.execute(req, duplicate)).resolves.toEqual({ by: 'A' });
    expect(duplicate).not.toHaveBeenCalled();
  });

  it('each claim and takeover is its own attempt: only the current one may renew, complete or release', async () => {
    const req = request();
    const [orgId, key] = [req.orgId, req.key!];
    const first = await keys.claim(orgId, key, 'sha256:x', 30);
    expect(first).toEqual(expect.any(String));
    expect(await keys.claim(orgId, key, 'sha256:x', 30)).toBeUndefined();
    expect(await keys.takeOver(orgId, key, 'sha256:x', 30)).toBeUndefined(); // lease still running
    await expireLease(req);
    const second = await keys.takeOver(orgId, key, 'sha256:x', 30);
    expect(second).toEqual(expect.any(String));
    expect(second).not.toBe(first);
    expect(await keys.renew(orgId, key, first!, 30)).toBe(false);
    expect(await keys.complete(orgId, key, first!, 202, { by: 'first' })).toBe(false);
    expect(await keys.release(orgId, key, first!)).toBe(false);
    expect(await record(req)).toEqual({ state: 'pending', response_body: null });
    expect(await keys.renew(orgId, key, second!, 30)).toBe(true);
    expect(await keys.complete(orgId, key, second!, 202, { by: 'second' })).toBe(true);
    expect(await keys.release(orgId, key, second!)).toBe(false); // completed records are kept
    expect(await record(req)).toEqual({ state: 'completed', response_body: { by: 'second' } });
  });
});
