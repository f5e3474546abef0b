import { createHash } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { canonicalJson } from '@khala/contracts';
import { APP_ENV } from '@khala/platform';
import { RuntimeError } from '../../runtime.error';
import type { RuntimeEnv } from '../../runtime.env';
import { IdempotencyAttempt, IdempotencyKeysRepository } from './idempotency-keys.repository';

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

export interface IdempotencyTimings {
  /** How long a claim holds its key without being renewed: how soon a retry may take over after a crash. */
  leaseSeconds: number;
  /** How often the holder renews its lease while its command runs (well inside the lease). */
  renewEveryMs: number;
  /** How long a duplicate waits for the holder's response before answering 409 idempotency_in_progress. */
  waitForOwnerMs: number;
}

/** Overrides of the timings derived from RUNTIME_IDEMPOTENCY_LEASE_SECONDS (tests use shorter ones). */
export const IDEMPOTENCY_TIMINGS = Symbol('IDEMPOTENCY_TIMINGS');

export function idempotencyTimings(leaseSeconds: number): IdempotencyTimings {
  return { leaseSeconds, renewEveryMs: (leaseSeconds * 1000) / 3, waitForOwnerMs: 5_000 };
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const WAIT_STEP_MS = 25;

type HolderOutcome<T> = { held: true; response: T } | { held: false };

/**
 * Idempotency-Key (api.md): same key + same request → the first response, no second effect;
 * same key + different request → 409 idempotency_mismatch. The request is identified by a hash of
 * method, path and canonical body; records are per org, so keys never collide across orgs.
 *
 * Order of writes: claim (pending, under a fresh attempt token) → execute the command → store the
 * response. The holder renews its lease while the command runs, so a live command is not executed
 * a second time by a duplicate. A crash after the append but before the response is stored leaves
 * a pending record; once its lease runs out a retry takes it over under a new attempt and executes
 * again, which appends nothing because the command's event ids derive from the key (see
 * runtime-commands.ts), and answers from the events what the first attempt would have answered.
 *
 * Fencing: completing and releasing a record require the attempt that holds it. An attempt that
 * lost its record (its lease ran out while it was stalled, and a retry took over) never overwrites
 * or deletes the new holder's record; having succeeded, it answers like any duplicate of the new
 * holder: the stored response once there is one, 409 idempotency_in_progress (retryable) if the
 * holder is still working past the wait. A failed command releases the key (nothing was done, so a
 * retry may try again) and reports its own error either way.
 */
@Injectable()
export class IdempotencyService {
  private readonly timings: IdempotencyTimings;

  constructor(
    private readonly keys: IdempotencyKeysRepository,
    @Inject(APP_ENV) env: Pick<RuntimeEnv, 'RUNTIME_IDEMPOTENCY_LEASE_SECONDS'>,
    @Optional() @Inject(IDEMPOTENCY_TIMINGS) overrides?: Partial<IdempotencyTimings>,
  ) {
    this.timings = { ...idempotencyTimings(env.RUNTIME_IDEMPOTENCY_LEASE_SECONDS), ...overrides };
  }

  async execute<T>(request: IdempotentRequest, work: () => Promise<T>): Promise<T> {
    const { key, orgId } = request;
    if (key === undefined) return work();
    if (!KEY_PATTERN.test(key)) {
      throw new RuntimeError(
        'invalid_idempotency_key',
        'Idempotency-Key must be 1-255 visible ASCII characters',
      );
    }
    const requestHash = hashRequest(request);
    const { leaseSeconds, waitForOwnerMs } = this.timings;
    let deadline = Date.now() + waitForOwnerMs;
    for (;;) {
      let attempt = await this.keys.claim(orgId, key, requestHash, leaseSeconds);
      if (!attempt) {
        const record = await this.keys.find(orgId, key);
        if (!record) continue; // released between our claim and our read: claim again
        if (record.requestHash !== requestHash) {
          throw new RuntimeError(
            'idempotency_mismatch',
            'this Idempotency-Key was used with a different request',
          );
        }
        if (record.state === 'completed') return record.responseBody as T;
        if (record.leaseExpired) attempt = await this.keys.takeOver(orgId, key, requestHash, leaseSeconds);
      }
      if (attempt) {
        const outcome = await this.runAsHolder(request, key, attempt, work);
        if (outcome.held) return outcome.response;
        // Fenced out while working: answer what the record's holder answers, waiting for it afresh.
        deadline = Date.now() + waitForOwnerMs;
        continue;
      }
      if (Date.now() >= deadline) {
        throw new RuntimeError(
          'idempotency_in_progress',
          'a request with this Idempotency-Key is still being processed',
          undefined,
          1,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  private async runAsHolder<T>(
    request: IdempotentRequest,
    key: string,
    attempt: IdempotencyAttempt,
    work: () => Promise<T>,
  ): Promise<HolderOutcome<T>> {
    const stopRenewing = this.renewWhileRunning(request.orgId, key, attempt);
    let response: T;
    try {
      response = await work();
    } catch (error) {
      stopRenewing();
      await this.keys.release(request.orgId, key, attempt).catch(() => undefined);
      throw error;
    }
    stopRenewing();
    const held = await this.keys.complete(request.orgId, key, attempt, request.status, response);
    return held ? { held, response } : { held };
  }

  /**
   * Keeps the lease of a running command's record from running out. A failed renewal is retried
   * at the next tick; if the lease runs out anyway, the fence keeps the records apart.
   */
  private renewWhileRunning(orgId: string, key: string, attempt: IdempotencyAttempt): () => void {
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      this.keys
        .renew(orgId, key, attempt, this.timings.leaseSeconds)
        .then((held) => {
          if (!held) clearInterval(timer); // taken over: nothing left to keep
        })
        .catch(() => undefined)
        .finally(() => {
          renewing = false;
        });
    }, this.timings.renewEveryMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

export function hashRequest(request: Pick<IdempotentRequest, 'method' | 'path' | 'body'>): string {
  const text = canonicalJson({
    method: request.method.toUpperCase(),
    path: request.path,
    body: request.body ?? {},
  });
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}
