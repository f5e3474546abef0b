import { randomUUID } from 'node:crypto';
import { startSystem, RunningSystem } from '../../apps/embedded/src/embedded';
import { TokenService } from '@khala/auth';
import { testDatabaseUrl } from './test-database';

/** The whole system on the test database, on ephemeral ports. */
export function startTestSystem(extraEnv: Record<string, string> = {}): Promise<RunningSystem> {
  return startSystem({
    ...process.env,
    DATABASE_URL: testDatabaseUrl(),
    DATA_DIR: 'memory',
    CONTROL_PORT: '0',
    RUNTIME_PORT: '0',
    KHALA_PORT: '0',
    ...extraEnv,
  });
}

export interface TestIdentity {
  userId: string;
  orgId: string;
  sessionId: string;
  deviceId: string;
}

export function freshIdentity(): TestIdentity {
  const suffix = randomUUID().slice(0, 8);
  return { userId: `user_${suffix}`, orgId: `org_${suffix}`, sessionId: `ses_${suffix}`, deviceId: `dev_${suffix}` };
}

export async function accessTokenFor(system: RunningSystem, identity: TestIdentity): Promise<string> {
  return (await new TokenService(system.keys).issueAccessToken(identity, 300)).token;
}

export async function syncTokenFor(system: RunningSystem, identity: TestIdentity, scopes: string[]): Promise<string> {
  return (await new TokenService(system.keys).issueSyncToken(identity, scopes, 300)).token;
}
