import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, loadState } from '@khala/eventstore';
import { Database, DATABASE } from '@khala/platform';
import { ControlError } from '../control.error';
import { userStream } from '../shared/ids';
import { userDecider } from './domain/user.decider';

/** A pending reservation older than this belongs to a signup that died between reserve and confirm. */
const STALE_PENDING_SECONDS = 30;

/**
 * Email uniqueness across user streams. The primary key on the normalised email serialises
 * concurrent signups in Postgres (the loser's INSERT waits for the winner's commit, then
 * conflicts), which holds on every control instance and with either event store.
 */
@Injectable()
export class EmailReservations {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /** Reserves `email` for `userId`, or throws email_taken. */
  async reserve(email: string, userId: string): Promise<void> {
    const inserted = await this.db.query(
      `INSERT INTO control.email_reservations (email, user_id, status) VALUES ($1, $2, 'pending')
       ON CONFLICT (email) DO NOTHING RETURNING user_id`,
      [email, userId],
    );
    if (inserted.rowCount === 1) return;
    const { rows } = await this.db.query<{ user_id: string; status: string; stale: boolean }>(
      `SELECT user_id, status, reserved_at < now() - make_interval(secs => $2) AS stale
         FROM control.email_reservations WHERE email = $1`,
      [email, STALE_PENDING_SECONDS],
    );
    const existing = rows[0];
    if (existing && existing.status === 'pending' && existing.stale) {
      // The earlier signup may have appended its user and died before confirming: then the email
      // is taken after all. Only an empty user stream lets this signup take the reservation over.
      const { state } = await loadState(this.store, userStream(existing.user_id), userDecider);
      if (state.exists) {
        await this.confirm(email, existing.user_id);
      } else {
        const taken = await this.db.query(
          `UPDATE control.email_reservations SET user_id = $3, reserved_at = now()
            WHERE email = $1 AND user_id = $2 AND status = 'pending' RETURNING user_id`,
          [email, existing.user_id, userId],
        );
        if (taken.rowCount === 1) return;
      }
    }
    throw new ControlError('email_taken', 'an account with this email already exists');
  }

  /** Marks the reservation as backed by an appended UserSignedUp; false when it was taken over. */
  async confirm(email: string, userId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE control.email_reservations SET status = 'confirmed' WHERE email = $1 AND user_id = $2`,
      [email, userId],
    );
    return rowCount === 1;
  }

  /** Frees a reservation whose signup failed before appending anything. */
  async release(email: string, userId: string): Promise<void> {
    await this.db.query(`DELETE FROM control.email_reservations WHERE email = $1 AND user_id = $2 AND status = 'pending'`, [
      email,
      userId,
    ]);
  }

  async findUserId(email: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT user_id FROM control.email_reservations WHERE email = $1 AND status = 'confirmed'`,
      [email],
    );
    return rows[0]?.user_id;
  }
}
