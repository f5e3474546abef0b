/**
 * Child process of the `append` benchmark: the whole system (apps/embedded startSystem) on the
 * DATABASE_URL it is given, or on its own in-memory PGlite without one; projectors off, so only
 * the command path is measured. Prints {runtime, databaseUrl, token} and runs until stdin closes.
 */
import { randomBytes } from 'node:crypto';
import { TokenService } from '../../../libs/auth/src/index';
import { startSystem } from '../../../apps/embedded/src/embedded';
import { parentClosed, reply } from './child-process';

async function main(): Promise<void> {
  const system = await startSystem({
    ...process.env,
    DATA_DIR: 'memory',
    CONTROL_PORT: '0',
    RUNTIME_PORT: '0',
    KHALA_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    RUNTIME_PROJECTORS: 'off',
  });
  const suffix = randomBytes(4).toString('hex');
  const identity = { userId: `bench_user_${suffix}`, orgId: `bench_org_${suffix}`, sessionId: `bench_ses_${suffix}`, deviceId: `bench_dev_${suffix}` };
  const token = (await new TokenService(system.keys).issueAccessToken(identity, 3600)).token;
  reply({ runtime: system.urls.runtime, databaseUrl: system.databaseUrl, token });
  await parentClosed();
  await system.stop();
  process.exit(0);
}

main().catch((error: Error) => {
  process.stderr.write(`system-server: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
