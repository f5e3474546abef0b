import { ScratchDatabase } from '../../libs/platform/src';

export default async function globalTeardown(): Promise<void> {
  const scratch = (globalThis as Record<string, unknown>).__KHALA_TEST_DB__ as ScratchDatabase | undefined;
  // KEEP_TEST_DATABASE leaves a real Postgres test database behind for inspection.
  if (process.env.KEEP_TEST_DATABASE && process.env.KHALA_TEST_DATABASE_KIND === 'postgres') return;
  await scratch?.drop();
}
