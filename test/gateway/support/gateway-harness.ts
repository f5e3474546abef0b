import { fork, ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import { KeyRing, TokenService } from '@khala/auth';
import { TOPIC_CLASSES } from '@khala/contracts';
import { Database, listenOn, loadEnv } from '@khala/platform';
import { appendJournal, encodeDocument, notifyJournalAppended } from '@khala/projections';
import { createGatewayApp } from '../../../apps/khala-gateway/src/gateway.app';
import { GatewayEnv } from '../../../apps/khala-gateway/src/gateway.env';
import { connectTestDatabase, testDatabaseUrl } from '../../support/test-database';
import { freshIdentity, TestIdentity } from '../../support/system';

export const ALL_SCOPES: string[] = [...TOPIC_CLASSES];

export interface TestGateway {
  url: string;
  wsUrl: string;
  keys: KeyRing;
  app: INestApplication;
  stop(): Promise<void>;
}

/** The gateway app alone on the shared test database, on an ephemeral port. */
export async function startGateway(extraEnv: Record<string, string> = {}, keys = KeyRing.generate()): Promise<TestGateway> {
  const env = loadEnv(GatewayEnv, { ...process.env, DATABASE_URL: testDatabaseUrl(), KHALA_PORT: '0', ...extraEnv });
  const app = await createGatewayApp(env, keys);
  const url = await listenOn(app, 0, '127.0.0.1');
  return { url, wsUrl: `${url.replace('http', 'ws')}/sync/socket/websocket`, keys, app, stop: () => app.close() };
}

/** A real second (or third) gateway process, started from its own entry point (apps/khala-gateway/src/main.ts). */
/**
 * A gateway and a journal writer for the whole test file: started before its tests, stopped after.
 * Read them inside tests (`harness.gateway`), not at module load.
 */
export function useGatewayAndWriter(): { readonly gateway: TestGateway; readonly writer: JournalWriter } {
  const harness = {} as { gateway: TestGateway; writer: JournalWriter };
  beforeAll(async () => {
    harness.gateway = await startGateway();
    harness.writer = await JournalWriter.open();
  });
  afterAll(async () => {
    await harness.writer?.close();
    await harness.gateway?.stop();
  });
  return harness;
}

export async function startGatewayProcess(keys: KeyRing, extraEnv: Record<string, string> = {}): Promise<{ wsUrl: string; stop(): Promise<void> }> {
  const root = join(__dirname, '../../..');
  const child: ChildProcess = fork(join(root, 'apps/khala-gateway/src/main.ts'), [], {
    cwd: root,
    execArgv: ['-r', '@swc-node/register'],
    env: {
      ...process.env,
      SWC_NODE_PROJECT: join(root, 'tsconfig.json'),
      DATABASE_URL: testDatabaseUrl(),
      AUTH_SIGNING_KEYS: keys.serialize(),
      KHALA_PORT: '0',
      LOG_LEVEL: 'silent',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`gateway process did not start: ${out} ${err}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited with ${code}: ${err}`));
    });
  });
  return {
    wsUrl: `${url.replace('http', 'ws')}/sync/socket/websocket`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export async function syncToken(keys: KeyRing, identity: TestIdentity, scopes: string[] = ALL_SCOPES): Promise<string> {
  return (await new TokenService(keys).issueSyncToken(identity, scopes, 300)).token;
}

export function socketUrl(gateway: { wsUrl: string }, token: string): string {
  return `${gateway.wsUrl}?token=${encodeURIComponent(token)}&vsn=2.0.0`;
}

/**
 * Writes journal rows exactly as a projector does (appendJournal: watermark allocated under the
 * sequence row lock, one transaction, NOTIFY after commit), without running a projector.
 */
export class JournalWriter {
  private constructor(readonly db: Database) {}

  static async open(): Promise<JournalWriter> {
    return new JournalWriter(await connectTestDatabase({ max: 8 }));
  }

  async append(topic: string, orgId: string, documents: unknown[], docKey = (i: number) => `doc:${randomUUID()}:${i}`): Promise<number[]> {
    return this.db.transaction(async (tx) => {
      const watermarks: number[] = [];
      for (let i = 0; i < documents.length; i++) {
        const { watermark } = await appendJournal(tx, { topic, orgId, docKey: docKey(i), docVersion: 1, document: documents[i] });
        watermarks.push(watermark);
      }
      await notifyJournalAppended(tx);
      return watermarks;
    });
  }

  /**
   * A run summary as the runs projector writes it: the read-model row and its journal row in one
   * transaction (so the snapshot route serves it). Returns the watermark.
   */
  async writeRunSummary(orgId: string, runId: string, version: number, fields: Record<string, unknown> = {}): Promise<number> {
    return this.db.transaction(async (tx) => {
      const document = { run_id: runId, org_id: orgId, ...fields };
      const encoded = encodeDocument(document);
      const { watermark } = await appendJournal(tx, { topic: 'runtime.run_summaries', orgId, docKey: `run_summary:${runId}`, docVersion: version, document }, encoded);
      await tx.query(
        `INSERT INTO runtime.run_summaries (run_id, org_id, document, doc_version, payload_hash, watermark, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now(), now())
         ON CONFLICT (run_id) DO UPDATE SET document = $3, doc_version = $4, payload_hash = $5, watermark = $6, updated_at = now()`,
        [runId, orgId, encoded.text, version, encoded.hash, watermark],
      );
      await notifyJournalAppended(tx);
      return watermark;
    });
  }

  /** What the retention job does: prune rows and advance the durable floor. */
  async prune(topic: string, orgId: string, retainedFrom: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM khala.journal WHERE topic = $1 AND org_id = $2 AND watermark < $3', [topic, orgId, retainedFrom]);
      await tx.query('UPDATE khala.topic_sequences SET retained_from = $3 WHERE topic = $1 AND org_id = $2', [topic, orgId, retainedFrom]);
    });
  }

  /** What apps/control's projector does when a session is revoked. */
  async revoke(identity: TestIdentity, reason = 'user_signed_out'): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO control.revocations (session_id, user_id, org_id, device_id, reason, revoked_at) VALUES ($1, $2, $3, $4, $5, now())`,
        [identity.sessionId, identity.userId, identity.orgId, identity.deviceId, reason],
      );
      await tx.query('SELECT pg_notify($1, $2)', [
        'khala_revocations',
        JSON.stringify({ session_id: identity.sessionId, user_id: identity.userId, org_id: identity.orgId, device_id: identity.deviceId, reason }),
      ]);
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export { freshIdentity };
export type { TestIdentity };
