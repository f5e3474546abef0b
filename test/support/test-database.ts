import { Database } from '@khala/platform';

export const isPgliteRun = () => process.env.KHALA_TEST_DATABASE_KIND === 'pglite';

export function testDatabaseUrl(): string {
  const url = process.env.KHALA_TEST_DATABASE_URL;
  if (!url) throw new Error('KHALA_TEST_DATABASE_URL is not set: run tests through jest (global setup)');
  return url;
}

export function connectTestDatabase(options: { role?: string; max?: number } = {}): Promise<Database> {
  return Database.connect({ url: testDatabaseUrl(), ...options });
}

/**
 * Races of real concurrent transactions need a server with more than one backend. PGlite runs one
 * transaction at a time, so those tests run on Postgres (CI) and say so when skipped.
 */
export const describeWithConcurrentPostgres: jest.Describe = ((name: string, fn: () => void) => {
  if (isPgliteRun()) {
     
    console.log(`skipped on PGlite (needs concurrent transactions; runs on Postgres in CI): ${name}`);
    return describe.skip(name, fn);
  }
  return describe(name, fn);
}) as jest.Describe;
