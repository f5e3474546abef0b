import { randomUUID } from 'node:crypto';
import { waitUntil } from '../../support/wait-until';

export { waitUntil };
import { KeyRing, TokenService } from '@khala/auth';
import { EventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { CommandLoad, SentCommand } from './command-load';
import { FaultFigures } from './figures';
import { SubscriberFleet } from './subscriber-fleet';
import { checkCommandsInStore, checkSubscribers, compareJournalWithRebuild, headWatermarks } from './verify';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ScenarioSetup {
  name: string;
  keys: KeyRing;
  runtimeUrl: string;
  /** Where subscribers connect (a gateway, or the proxy in front of several). */
  socketUrl: string;
  /** A gateway's HTTP URL for the snapshot route, read when the checks run. */
  gatewayUrl: () => string;
  /** Admin connection to the live database (journal, read models, sequences). */
  db: Database;
  /** The server the rebuild database is created on. */
  serverUrl: string;
  store: EventStore;
  orgs: number;
  subscribersPerOrg: number;
  topics: string[];
  ratePerSecond: number;
  lanes: number;
  /** Load before the fault and after recovery. */
  warmupMs?: number;
  cooldownMs?: number;
  /**
   * Injects the fault while the load runs and resolves when the broken component is back
   * (`restoredAt`); `faultMs` is how long it was broken.
   */
  /** Extra text for a failure message (e.g. the processes' output). */
  diagnose?: () => string;
  fault(context: { load: CommandLoad; fleet: SubscriberFleet }): Promise<{ restoredAt: number; faultMs: number; notes?: string }>;
}

export interface ScenarioResult {
  figures: FaultFigures;
  problems: string[];
}

const SCOPES = ['runtime.run_summaries', 'runtime.run_events'];

/**
 * Steady command load + connected subscribers → fault → recovery probe → quiesce → checks: every
 * acknowledged command in the store exactly once, the journal equal to a fresh rebuild, every
 * subscriber's state equal to a fresh snapshot with no gap and no duplicate.
 */
export async function runScenario(setup: ScenarioSetup): Promise<ScenarioResult> {
  const tokens = new TokenService(setup.keys);
  const suffix = randomUUID().slice(0, 8);
  const identities = Array.from({ length: setup.orgs }, (_, i) => ({
    userId: `user_f${i}_${suffix}`,
    orgId: `org_f${i}_${suffix}`,
    sessionId: `ses_f${i}_${suffix}`,
    deviceId: `dev_f${i}_${suffix}`,
  }));
  const accessTokens = new Map<string, string>();
  const syncTokens = new Map<string, () => Promise<string>>();
  for (const identity of identities) {
    accessTokens.set(identity.orgId, (await tokens.issueAccessToken(identity, 900)).token);
    syncTokens.set(identity.orgId, async () => (await tokens.issueSyncToken(identity, SCOPES, 300)).token);
  }
  const orgs = new Set(accessTokens.keys());

  const fleet = await SubscriberFleet.connect({ url: setup.socketUrl, tokens: syncTokens, perOrg: setup.subscribersPerOrg, topics: setup.topics });
  const load = new CommandLoad({ runtimeUrl: setup.runtimeUrl, tokens: accessTokens, ratePerSecond: setup.ratePerSecond, lanes: setup.lanes });
  const problems: string[] = [];
  try {
    load.start();
    await sleep(setup.warmupMs ?? 2_000);
    const { restoredAt, faultMs, notes } = await setup.fault({ load, fleet });

    // Recovery: a probe command per org, sent the moment the component is back, acknowledged and
    // applied by every subscriber of its org.
    const probes = await Promise.all([...orgs].map((org) => load.probe(org)));
    await waitUntil(() => {
      return fleet.subscribers.every((subscriber) => {
        const probe = probes.find((p) => p.orgId === subscriber.orgId)!;
        return subscriber.topics.get('runtime.run_summaries')?.documents.has(`run_summary:${probe.runId}`) ?? true;
      });
    }, 60_000, 'every subscriber to apply its org\'s recovery probe').catch(async (error: Error) => {
      // Where did it stop: not projected (projector), or projected but not delivered (gateway)?
      const runIds = probes.map((p) => p.runId!);
      const { rows } = await setup.db.query('SELECT run_id, doc_version, watermark FROM runtime.run_summaries WHERE run_id = ANY($1)', [runIds]).catch((e: Error) => ({ rows: [e.message] }));
      const heads = await headWatermarks(setup.db, 'runtime.run_summaries', [...orgs]);
      const applied = fleet.subscribers.map((s) => `${s.orgId}:${s.client.watermark('runtime.run_summaries')}/${heads.get(s.orgId)} ${s.client.status}`);
      throw new Error(`${error.message}; probe summaries in the read model: ${JSON.stringify(rows)}; subscribers: ${applied.slice(0, 6).join(', ')}; ${setup.diagnose?.() ?? ''}`);
    });
    const recoverMs = Date.now() - restoredAt;

    await sleep(setup.cooldownMs ?? 2_000);
    await load.stop();

    const store = await checkCommandsInStore(setup.store, load.commands, orgs);
    problems.push(...store.problems);
    await waitForLiveProjection(setup.db, store.perStream);
    const subscribers = await checkSubscribers({ fleet, db: setup.db, gatewayUrl: setup.gatewayUrl(), syncTokens });
    problems.push(...subscribers.problems);
    const journalDiffs = await compareJournalWithRebuild({ serverUrl: setup.serverUrl, liveDb: setup.db, store: setup.store });
    problems.push(...journalDiffs);

    const figures: FaultFigures = {
      scenario: setup.name,
      events: store.events,
      commands: store.acknowledged,
      sent: load.commands.length,
      retries: load.retries,
      rejected: load.commands.filter((c: SentCommand) => c.outcome === 'rejected' || c.outcome === 'abandoned').length,
      subscribers: subscribers.subscribers,
      reconnects: fleet.reconnects,
      lost: store.lost,
      duplicated: store.duplicated,
      gaps: subscribers.gaps,
      subscriberDuplicates: subscribers.duplicates,
      mismatched: subscribers.mismatched,
      journalDiffs: journalDiffs.length,
      faultMs,
      recoverMs,
      answers: Object.fromEntries(load.failures),
      notes,
    };
    const rejected = load.commands.filter((c) => c.outcome === 'rejected' || c.outcome === 'abandoned');
    if (rejected.length) {
      problems.push(`rejected: ${[...new Set(rejected.map((c) => String(c.lastStatus)))].join(', ')}`);
      // The servers' error logs say why (a refusal the load did not expect is a bug to find).
      if (setup.diagnose) console.log(`[faults] refused commands; server logs:\n${setup.diagnose()}`);
    }
    return { figures, problems };
  } finally {
    await load.stop();
    fleet.stop();
  }
}

/** Waits until runtime's read models reflect every event of the scenario's runs. */
async function waitForLiveProjection(db: Database, perStream: Map<string, number>, timeoutMs = 60_000): Promise<void> {
  const runIds = [...perStream.keys()].map((stream) => stream.slice('run-'.length));
  const expectedEvents = [...perStream.values()].reduce((a, b) => a + b, 0);
  await waitUntil(async () => {
    const { rows } = await db.query<{ run_id: string; doc_version: string }>('SELECT run_id, doc_version FROM runtime.run_summaries WHERE run_id = ANY($1)', [runIds]);
    const summariesCurrent = rows.length === runIds.length && rows.every((row) => Number(row.doc_version) === perStream.get(`run-${row.run_id}`));
    const { rows: counted } = await db.query<{ n: string }>('SELECT count(*) AS n FROM runtime.run_events WHERE run_id = ANY($1)', [runIds]);
    return summariesCurrent && Number(counted[0].n) === expectedEvents;
  }, timeoutMs, 'the live projector to catch up with the store');
}

/** The invariants every fault scenario must keep: nothing acknowledged lost or doubled, state equal to a rebuild. */
export function expectNothingLostOrDoubled(result: ScenarioResult): void {
  expect({ ...result.figures, problems: result.problems }).toMatchObject({
    lost: 0,
    duplicated: 0,
    gaps: 0,
    subscriberDuplicates: 0,
    mismatched: 0,
    journalDiffs: 0,
    problems: [],
  });
}
