import { CommonEnv, InvalidEnvironmentError, loadEnv } from '@khala/platform';
import { RuntimeEnv } from '../../apps/runtime/src/runtime.env';

describe('environment validation at startup', () => {
  it('applies defaults and converts numbers', () => {
    const env = loadEnv(RuntimeEnv, { RUNTIME_PORT: '4000' });
    expect(env).toMatchObject({ HOST: '127.0.0.1', RUNTIME_PORT: 4000, LOG_LEVEL: 'info', DATA_DIR: '.data' });
  });

  it('names every bad key in one error', () => {
    let error: unknown;
    try {
      loadEnv(RuntimeEnv, { RUNTIME_PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', POLL_INTERVAL_MS: '1' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    expect(Object.keys((error as InvalidEnvironmentError).badKeys).sort()).toEqual([
      'DATABASE_URL',
      'LOG_LEVEL',
      'POLL_INTERVAL_MS',
      'RUNTIME_PORT',
    ]);
    expect((error as Error).message).toContain('DATABASE_URL must be a postgres:// URL');
  });

  it('accepts the documented EventStoreDB connection string', () => {
    expect(loadEnv(CommonEnv, { EVENTSTORE_URL: 'esdb://127.0.0.1:2113?tls=false' }).EVENTSTORE_URL).toBe(
      'esdb://127.0.0.1:2113?tls=false',
    );
  });
});
