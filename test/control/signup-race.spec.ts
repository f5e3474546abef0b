import { RunningSystem } from '../../apps/embedded/src/embedded';
import { startTestSystem } from '../support/system';
import { connectTestDatabase, describeWithConcurrentPostgres } from '../support/test-database';
import { call, CONTROL_TEST_ENV, freshEmail } from './control-client';

/**
 * Concurrent signups with one email race real transactions: the email reservation's primary key
 * lets exactly one through; every other one is 409 and leaves no user behind.
 */
describeWithConcurrentPostgres('concurrent signups with the same email', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startTestSystem(CONTROL_TEST_ENV);
  });
  afterAll(() => system.stop());

  it('exactly one wins, in any letter case', async () => {
    for (let round = 0; round < 3; round++) {
      const email = freshEmail('race');
      const spellings = [email, email.toUpperCase(), email.toLowerCase(), ` ${email}`.trim()];
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          call(system.urls.control, 'POST', '/api/auth/signup', {
            body: { email: spellings[i % spellings.length], password: `password number ${i}`, name: `racer ${i}` },
          }),
        ),
      );
      const statuses = replies.map((reply) => reply.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
      for (const reply of replies.filter((r) => r.status === 409)) expect(reply.body).toMatchObject({ code: 'email_taken' });

      const winner = replies.find((reply) => reply.status === 201)!.body as { user_id: string };
      const db = await connectTestDatabase({ max: 1 });
      try {
        const users = await db.query('SELECT user_id FROM control.users WHERE email = $1', [email.toLowerCase()]);
        expect(users.rows).toEqual([{ user_id: winner.user_id }]);
        const streams = await db.query(
          `SELECT DISTINCT stream_id FROM eventstore.events WHERE event_type = 'UserSignedUp' AND data->>'email' = $1`,
          [email.toLowerCase()],
        );
        expect(streams.rows).toEqual([{ stream_id: `user-${winner.user_id}` }]);
        const reservations = await db.query('SELECT user_id, status FROM control.email_reservations WHERE email = $1', [
          email.toLowerCase(),
        ]);
        expect(reservations.rows).toEqual([{ user_id: winner.user_id, status: 'confirmed' }]);
      } finally {
        await db.close();
      }
    }
  });
});
