import { InvalidEnvironmentError, loadEnv } from '@khala/platform';
import { CliEnv } from './cli.env';

describe('CliEnv', () => {
  it('defaults to the embedded database in .data and the Postgres event store', () => {
    const env = loadEnv(CliEnv, {});
    expect(env).toMatchObject({ DATA_DIR: '.data' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.EVENTSTORE_URL).toBeUndefined();
  });

  it("ignores a server key it never reads, even a bad one (an operator's shell carries the server's environment)", () => {
    expect(loadEnv(CliEnv, { LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://db/khala' }).DATABASE_URL).toBe('postgres://db/khala');
  });

  it('names each bad key it reads', () => {
    let error: unknown;
    try {
      loadEnv(CliEnv, { DATABASE_URL: 'mysql://x', EVENTSTORE_URL: 'http://esdb' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    expect(Object.keys((error as InvalidEnvironmentError).badKeys).sort()).toEqual(['DATABASE_URL', 'EVENTSTORE_URL']);
  });
});
