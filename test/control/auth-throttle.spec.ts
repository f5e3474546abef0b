import { Database, loadEnv } from '@khala/platform';
import { randomUUID } from 'node:crypto';
import { ControlEnv } from '../../apps/control/src/control.env';
import { ControlError } from '../../apps/control/src/control.error';
import { AuthThrottle } from '../../apps/control/src/identity/auth-throttle';
import { connectTestDatabase } from '../support/test-database';

/** The login/signup throttle on the real database: slowed with Retry-After, never locked for long. */
describe('AuthThrottle', () => {
  let db: Database;
  let throttle: AuthThrottle;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    throttle = new AuthThrottle(db, loadEnv(ControlEnv, {}));
  });
  afterAll(() => db.close());

  const bucket = (capacity: number, perMinute: number) => ({ key: `test:${randomUUID()}`, capacity, refillPerSecond: perMinute / 60 });

  it('allows a burst, then answers rate_limited with a Retry-After', async () => {
    const ip = bucket(3, 6);
    for (let i = 0; i < 3; i++) await throttle.consume([ip]);
    const error = await throttle.consume([ip]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlError);
    expect(error).toMatchObject({ code: 'rate_limited', kind: 'rate_limited' });
    expect((error as ControlError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('hammering pushes the wait out only to a bound: no lockout', async () => {
    const account = bucket(3, 60);
    const waits: number[] = [];
    for (let i = 0; i < 30; i++) {
      const error = (await throttle.consume([account]).catch((e: unknown) => e)) as ControlError | undefined;
      if (error) waits.push(error.retryAfterSeconds!);
    }
    expect(waits.length).toBeGreaterThan(20);
    // (capacity + 1) / refill = 4 s at most, however often it is hit.
    expect(Math.max(...waits)).toBeLessThanOrEqual(5);
  });

  it('one exhausted bucket does not affect another key', async () => {
    const exhausted = bucket(1, 1);
    await throttle.consume([exhausted]);
    await expect(throttle.consume([exhausted])).rejects.toMatchObject({ code: 'rate_limited' });
    await expect(throttle.consume([bucket(1, 1)])).resolves.toBeUndefined();
  });
});
