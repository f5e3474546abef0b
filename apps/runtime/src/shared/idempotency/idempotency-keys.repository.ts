import { randomUUID } from 'node:crypto';
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

/**
 * The fence of one claim of a key: each claim and each takeover gets a fresh one, and only the
 * attempt holding the record's current fence may renew, complete or release it.
 */
export type IdempotencyAttempt = string;

interface Row {
  request_hash: string;
  state: 'pending' | 'completed';
  response_status: number | null;
  response_body: unknown;
  lease_expired: boolean;
}

/** runtime.idempotency_keys (migrations 0004, 0011): one row per (org, Idempotency-Key). */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Inserts a pending record held by a new attempt; undefined when (org, key) already has one. */
  async claim(
    orgId: string,
    key: string,
    requestHash: string,
    leaseSeconds: number,
  ): Promise<IdempotencyAttempt | undefined> {
    return this.underNewAttempt(
      `INSERT INTO runtime.idempotency_keys (org_id, idempotency_key, request_hash, state, locked_until, attempt)
       VALUES ($1, $2, $3, 'pending', now() + make_interval(secs => $4), $5)
       ON CONFLICT (org_id, idempotency_key) DO NOTHING`,
      [orgId, key, requestHash, leaseSeconds],
    );
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

  /**
   * Takes over a pending record whose holder's lease ran out, under a new attempt (which fences
   * the old one out); undefined if the lease is still running or someone else took it first.
   */
  async takeOver(
    orgId: string,
    key: string,
    requestHash: string,
    leaseSeconds: number,
  ): Promise<IdempotencyAttempt | undefined> {
    return this.underNewAttempt(
      `UPDATE runtime.idempotency_keys SET locked_until = now() + make_interval(secs => $4), attempt = $5
        WHERE org_id = $1 AND idempotency_key = $2 AND request_hash = $3 AND state = 'pending' AND locked_until < now()`,
      [orgId, key, requestHash, leaseSeconds],
    );
  }

  /** Runs a claim or takeover statement with a fresh attempt as its last parameter; the attempt if it got the row. */
  private async underNewAttempt(statement: string, params: unknown[]): Promise<IdempotencyAttempt | undefined> {
    const attempt = randomUUID();
    const { rowCount } = await this.db.query(statement, [...params, attempt]);
    return rowCount === 1 ? attempt : undefined;
  }

  /** Extends the lease of a record this attempt still holds; false once it no longer does. */
  async renew(
    orgId: string,
    key: string,
    attempt: IdempotencyAttempt,
    leaseSeconds: number,
  ): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE runtime.idempotency_keys SET locked_until = now() + make_interval(secs => $4)
        WHERE org_id = $1 AND idempotency_key = $2 AND attempt = $3 AND state = 'pending'`,
      [orgId, key, attempt, leaseSeconds],
    );
    return rowCount === 1;
  }

  /** Stores the response, if this attempt still holds the record; false when it was fenced out. */
  async complete(
    orgId: string,
    key: string,
    attempt: IdempotencyAttempt,
    responseStatus: number,
    responseBody: unknown,
  ): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE runtime.idempotency_keys
          SET state = 'completed', response_status = $4, response_body = $5, completed_at = now()
        WHERE org_id = $1 AND idempotency_key = $2 AND attempt = $3 AND state = 'pending'`,
      [orgId, key, attempt, responseStatus, JSON.stringify(responseBody)],
    );
    return rowCount === 1;
  }

  /**
   * Forgets a pending record whose command failed, so the key can be retried; false (and nothing
   * deleted) when another attempt holds the record by now.
   */
  async release(orgId: string, key: string, attempt: IdempotencyAttempt): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `DELETE FROM runtime.idempotency_keys WHERE org_id = $1 AND idempotency_key = $2 AND attempt = $3 AND state = 'pending'`,
      [orgId, key, attempt],
    );
    return rowCount === 1;
  }
}
