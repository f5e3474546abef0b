import { Database, EmbeddedPostgres, quoteIdentifier } from '../../libs/platform/src';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis as Record<string, unknown>;
  const embedded = state.__KHALA_EMBEDDED__ as EmbeddedPostgres | undefined;
  if (embedded) await embedded.stop();
  const real = state.__KHALA_TEST_DB__ as { adminUrl: string; name: string } | undefined;
  if (real && !process.env.KEEP_TEST_DATABASE) {
    const admin = await Database.connect({ url: real.adminUrl, max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(real.name)} WITH (FORCE)`);
    await admin.close();
  }
}
