import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { APP_ENV, Database, DATABASE } from '@khala/platform';
import { ControlEnv } from '../control.env';
import { ControlError } from '../control.error';

export interface Bucket {
  key: string;
  /** Attempts allowed in a burst. */
  capacity: number;
  /** Attempts regained per second. */
  refillPerSecond: number;
}

/**
 * Token buckets in Postgres, so every control instance shares them. Nothing ever locks an account:
 * an exhausted bucket answers 429 with Retry-After, and hammering it can push the wait out to at
 * most (capacity + 1) / refill seconds because the balance never drops below -capacity.
 */
@Injectable()
export class AuthThrottle {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(APP_ENV) private readonly env: ControlEnv,
  ) {}

  ipBucket(purpose: 'login' | 'signup', ip: string): Bucket {
    return {
      key: `${purpose}:ip:${ip}`,
      capacity: this.env.AUTH_IP_BURST,
      refillPerSecond: this.env.AUTH_IP_PER_MINUTE / 60,
    };
  }

  accountBucket(email: string): Bucket {
    // Hashed so the throttle table holds no email addresses.
    const account = createHash('sha256').update(email).digest('hex');
    return {
      key: `login:account:${account}`,
      capacity: this.env.AUTH_ACCOUNT_BURST,
      refillPerSecond: this.env.AUTH_ACCOUNT_PER_MINUTE / 60,
    };
  }

  /** Takes one attempt from every bucket, or throws rate_limited with the longest wait. */
  async consume(buckets: Bucket[]): Promise<void> {
    let retryAfter = 0;
    for (const bucket of buckets) {
      const { rows } = await this.db.query<{ tokens: number }>(
        `INSERT INTO control.auth_throttle AS t (key, tokens, updated_at) VALUES ($1, $2::float8 - 1, clock_timestamp())
         ON CONFLICT (key) DO UPDATE SET
           tokens = GREATEST(-$2::float8,
                      LEAST($2::float8, t.tokens + EXTRACT(EPOCH FROM clock_timestamp() - t.updated_at)::float8 * $3::float8) - 1),
           updated_at = clock_timestamp()
         RETURNING tokens`,
        [bucket.key, bucket.capacity, bucket.refillPerSecond],
      );
      const tokens = Number(rows[0].tokens);
      if (tokens < 0) retryAfter = Math.max(retryAfter, Math.ceil((1 - tokens) / bucket.refillPerSecond));
    }
    if (retryAfter > 0) {
      throw new ControlError('rate_limited', 'too many attempts; retry later', { retry_after_seconds: retryAfter }, retryAfter);
    }
  }
}
