import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { canonicalJson } from '@khala/contracts';
import { RuntimeError } from '../../runtime.error';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';

export interface IdempotentRequest {
  orgId: string;
  /** The Idempotency-Key header, if any. */
  key: string | undefined;
  method: string;
  path: string;
  body: unknown;
  /** Status of a successful response; replays answer with the stored one. */
  status: number;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
// Longer than any command takes; a pending record older than this belongs to a request that died.
const LEASE_SECONDS = 30;
// How long a duplicate waits for the first request carrying its key before answering 409.
const WAIT_FOR_OWNER_MS = 5_000;
const WAIT_STEP_MS = 25;

/**
 * Idempotency-Key (api.md): same key + same request → the first response, no second effect;
 * same key + different request → 409 idempotency_mismatch. The request is identified by a hash of
 * method, path and canonical body; records are per org, so keys never collide across orgs.
 *
 * Order of writes: claim (pending) → execute the command → store the response. A crash after the
 * append but before the response is stored leaves a pending record; once its lease runs out a
 * retry takes over and executes again, which appends nothing because the command's event ids
 * derive from the key (see executeRuntimeCommand). Failed commands release the key: nothing was
 * done, so a retry may try again.
 */
@Injectable()
export class IdempotencyService {
  constructor(private readonly keys: IdempotencyKeysRepository) {}

  async execute<T>(request: IdempotentRequest, work: () => Promise<T>): Promise<T> {
    const { key, orgId } = request;
    if (key === undefined) return work();
    if (!KEY_PATTERN.test(key)) {
      throw new RuntimeError('invalid_idempotency_key', 'Idempotency-Key must be 1-255 visible ASCII characters');
    }
    const requestHash = hashRequest(request);
    const deadline = Date.now() + WAIT_FOR_OWNER_MS;
    for (;;) {
      if (await this.keys.claim(orgId, key, requestHash, LEASE_SECONDS)) return this.runAsOwner(request, key, work);
      const record = await this.keys.find(orgId, key);
      if (!record) continue; // released between our claim and our read: claim again
      if (record.requestHash !== requestHash) {
        throw new RuntimeError('idempotency_mismatch', 'this Idempotency-Key was used with a different request');
      }
      if (record.state === 'completed') return record.responseBody as T;
      if (record.leaseExpired && (await this.keys.takeOver(orgId, key, requestHash, LEASE_SECONDS))) {
        return this.runAsOwner(request, key, work);
      }
      if (Date.now() >= deadline) {
        throw new RuntimeError('idempotency_in_progress', 'a request with this Idempotency-Key is still being processed', undefined, 1);
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  private async runAsOwner<T>(request: IdempotentRequest, key: string, work: () => Promise<T>): Promise<T> {
    let response: T;
    try {
      response = await work();
    } catch (error) {
      await this.keys.release(request.orgId, key).catch(() => undefined);
      throw error;
    }
    await this.keys.complete(request.orgId, key, request.status, response);
    return response;
  }
}

export function hashRequest(request: Pick<IdempotentRequest, 'method' | 'path' | 'body'>): string {
  const text = canonicalJson({ method: request.method.toUpperCase(), path: request.path, body: request.body ?? {} });
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}
