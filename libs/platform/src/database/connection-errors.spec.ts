import { isConnectionError } from '@khala/platform';

describe('isConnectionError (one classification for HTTP 503, subscriptions and projectors)', () => {
  it('recognises socket errors, Postgres shutdown/connection codes and node-postgres messages', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    // A full disk fails the write whole and clears up: retry (503 / projector back-off), never park.
    expect(isConnectionError(Object.assign(new Error('could not extend file: No space left on device'), { code: '53100' }))).toBe(true);
  });

  it('does not treat query errors as retryable', () => {
    expect(isConnectionError(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('permission denied for schema control'), { code: '42501' }))).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });
});
