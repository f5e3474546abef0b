import { Inject, Injectable } from '@nestjs/common';
import { Database, DATABASE } from '@khala/platform';

export interface IdempotencyRecord {
  requestHash: string;
  state: 'pending' | 'completed';
  responseStatus: number | null;
  responseBody: unknown;
  /** A pending record whose lease ran out belongs to a request that died: it may be taken over. */
  leaseExpired: boolean;
}

interface Row {
  request_hash: string;
  state: 'pending' | 'completed';
  response_status: number | null;
  response_body: unknown;
  lease_expired: boolean;
}

/** runtime.idempotency_keys (migration 0004): one row per (org, Idempotency-Key). */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Inserts a pending record; false when (org, key) already has one. */
  async claim(orgId: string, key: string, requestHash: string, leaseSeconds: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO runtime.idempotency_keys (org_id, idempotency_key, request_hash, state, locked_until)
       VALUES ($1, $2, $3, 'pending', now() + make_interval(secs => $4))
       ON CONFLICT (org_id, idempotency_key) DO NOTHING`,
      [orgId, key, requestHash, leaseSeconds],
    );
    return rowCount === 1;
  }

  async find(orgId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT request_hash, state, response_status, response_body, locked_until < now() AS lease_expired
         FROM runtime.idempotency_keys WHERE org_id = $1 AND idempotency_key = $2`,
      [orgId, key],
    );
    const row = rows[0];
    return (
      row && {
        requestHash: row.request_hash,
        state: row.state,
        responseStatus: row.response_status,
        responseBody: row.response_body,
        leaseExpired: row.lease_expired,
      }
    );
  }

  /** Takes over a pending record whose owner's lease ran out; false if someone else did first. */
  async takeOver(orgId: string, key: string, requestHash: string, leaseSeconds: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE runtime.idempotency_keys SET locked_until = now() + make_interval(secs => $4)
        WHERE org_id = $1 AND idempotency_key = $2 AND request_hash = $3 AND state = 'pending' AND locked_until < now()`,
      [orgId, key, requestHash, leaseSeconds],
    );
    return rowCount === 1;
  }

  async complete(orgId: string, key: string, responseStatus: number, responseBody: unknown): Promise<void> {
    await this.db.query(
      `UPDATE runtime.idempotency_keys
          SET state = 'completed', response_status = $3, response_body = $4, completed_at = now()
        WHERE org_id = $1 AND idempotency_key = $2 AND state = 'pending'`,
      [orgId, key, responseStatus, JSON.stringify(responseBody)],
    );
  }

  /** Forgets a pending record whose command failed, so the key can be retried. */
  async release(orgId: string, key: string): Promise<void> {
    await this.db.query(`DELETE FROM runtime.idempotency_keys WHERE org_id = $1 AND idempotency_key = $2 AND state = 'pending'`, [
      orgId,
      key,
    ]);
  }
}
