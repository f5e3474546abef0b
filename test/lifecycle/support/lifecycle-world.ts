import { canonicalJson } from '@khala/contracts';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { appendJournal, encodeDocument, notifyJournalAppended, rebuildProjection, runRetention } from '@khala/projections';
import { RunningSystem } from '../../../apps/embedded/src/embedded';
import { tableProjection } from '../../../apps/cli/src/projections/catalog';
import { RuntimeApi } from '../../runtime/support/runtime-api';
import { freshIdentity, startTestSystem, syncTokenFor, TestIdentity } from '../../support/system';
import { connectTestDatabase, isPgliteRun, usePrivateDatabase } from '../../support/test-database';
import { LifecycleModel } from './lifecycle-model';
import { ObservedClient } from './observed-client';

export const SCOPES = ['runtime.run_summaries', 'runtime.run_events'];

/**
 * Retention of every topic class for this test (khala.topic_classes is where retention is
 * configured, docs/operations.md §5): one hour instead of 12 h..7 d, so aging a prefix of any
 * topic by AGE_BY makes the next retention pass remove it, and nothing expires on its own while
 * the test runs (the runtime's own retention job keeps running, and finds nothing).
 */
export const TEST_RETENTION = '1 hour';
const AGE_BY = '2 hours';
/**
 * Replay budget of every topic class for this test (3,000..20,000 otherwise), so a device that
 * missed more than a few updates takes the other stale-cursor path (replay_budget_exceeded) too.
 */
export const TEST_REPLAY_BUDGET = 8;

/** How long settle() waits for the read model and the clients: generous, for a loaded 2-core machine. */
export const SETTLE_DEADLINE_MS = Number(process.env.MODEL_SETTLE_MS ?? (isPgliteRun() ? 40_000 : 20_000));

/**
 * sync:subscribe frames one client may send for one topic within one step. A step is one command
 * (a connect, a retention pass, a rebuild...): a correct client subscribes once on connect and
 * perhaps once more after a stale cursor or a gap. A resubscribe loop sends thousands.
 */
export const SUBSCRIBE_BOUND_PER_STEP = 5;

export interface WorldOrg {
  index: number;
  identity: TestIdentity;
  api: RuntimeApi;
}

export interface Figures {
  runs: number;
  commands: Record<string, number>;
  clients: number;
  connects: number;
  retentionPasses: number;
  journalRowsRetained: number;
  rebuilds: number;
  resets: number;
  subscribes: number;
  updatesApplied: number;
  snapshotBootstraps: number;
  resyncs: number;
  checks: number;
}

interface LedgerEntry {
  doc_key: string;
  payload_hash: string;
}

/**
 * The real system the model runs against: all three apps in-process on a database of this file's
 * own (a rebuild swaps whole read-model tables and a reset moves every org's floor, so it must not
 * share the run's database with other files), an admin connection for reading the read model and
 * the journal, and the operator actions (retention, rebuild) called as the runtime and `oa` call them.
 */
export class LifecycleWorld {
  orgs: WorldOrg[] = [];
  clients: ObservedClient[] = [];
  readonly figures: Figures = {
    runs: 0,
    commands: {},
    clients: 0,
    connects: 0,
    retentionPasses: 0,
    journalRowsRetained: 0,
    rebuilds: 0,
    resets: 0,
    subscribes: 0,
    updatesApplied: 0,
    snapshotBootstraps: 0,
    resyncs: 0,
    checks: 0,
  };
  /** Every journal row of this run's orgs seen so far (kept after retention deletes it): (topic, org) → watermark → row. */
  private ledger = new Map<string, Map<number, LedgerEntry>>();

  private constructor(
    readonly system: RunningSystem,
    readonly db: Database,
    private readonly privateDatabase: { release(): Promise<void> },
  ) {}

  static async start(): Promise<LifecycleWorld> {
    const privateDatabase = await usePrivateDatabase();
    const db = await connectTestDatabase({ max: isPgliteRun() ? 1 : 4 });
    // Before the system starts: the gateway reads the policies once.
    await db.query('UPDATE khala.topic_classes SET retention = $1::interval, replay_budget = $2', [TEST_RETENTION, TEST_REPLAY_BUDGET]);
    const system = await startTestSystem();
    return new LifecycleWorld(system, db, privateDatabase);
  }

  async stop(): Promise<void> {
    this.stopClients();
    await this.system.stop();
    await this.db.close();
    await this.privateDatabase.release();
  }

  /** A fresh pair (or more) of orgs for one model run: nothing the model does not know exists in them. */
  async beginRun(orgCount: number): Promise<void> {
    this.stopClients();
    this.clients = [];
    this.ledger = new Map();
    this.orgs = [];
    for (let index = 0; index < orgCount; index++) {
      const identity = freshIdentity();
      this.orgs.push({ index, identity, api: await RuntimeApi.as(this.system, identity) });
    }
    this.figures.runs += 1;
  }

  count(command: string): void {
    this.figures.commands[command] = (this.figures.commands[command] ?? 0) + 1;
  }

  stopClients(): void {
    for (const client of this.clients) {
      this.collectFigures(client);
      client.disconnect();
    }
  }

  private collectFigures(client: ObservedClient): void {
    if ((client as { counted?: boolean }).counted) return;
    (client as { counted?: boolean }).counted = true;
    this.figures.clients += 1;
    this.figures.connects += client.connects;
    this.figures.snapshotBootstraps += client.snapshotsFetched;
    this.figures.resyncs += client.resyncs;
    for (const view of client.views.values()) {
      this.figures.subscribes += view.subscribesTotal;
      this.figures.updatesApplied += view.applied;
    }
  }

  socketUrl(): string {
    return `${this.system.urls.gateway.replace(/^http/, 'ws')}/sync/socket/websocket`;
  }

  syncToken(org: WorldOrg, clientId: number): Promise<string> {
    return syncTokenFor(this.system, { ...org.identity, deviceId: `${org.identity.deviceId}_c${clientId}` }, SCOPES);
  }

  async retainedFrom(orgId: string, topics: string[]): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ topic: string; retained_from: string }>(
      'SELECT topic, retained_from FROM khala.topic_sequences WHERE org_id = $1 AND topic = ANY($2::text[])',
      [orgId, topics],
    );
    const found = new Map(rows.map((row) => [row.topic, Number(row.retained_from)]));
    return new Map(topics.map((topic) => [topic, found.get(topic) ?? 1]));
  }

  async heads(orgId: string, topics: string[]): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ topic: string; head_watermark: string }>(
      'SELECT topic, head_watermark FROM khala.topic_sequences WHERE org_id = $1 AND topic = ANY($2::text[])',
      [orgId, topics],
    );
    const found = new Map(rows.map((row) => [row.topic, Number(row.head_watermark)]));
    return new Map(topics.map((topic) => [topic, found.get(topic) ?? 0]));
  }

  // ------------------------------------------------------------------ operator actions

  /**
   * One retention pass after the journal rows of this run's orgs up to `fraction` of each
   * partition's head were made older than the (shortened) retention: the floor moves past the
   * cursors of clients that were offline since.
   */
  async ageAndRunRetention(fraction: number): Promise<number> {
    const orgIds = this.orgs.map((org) => org.identity.orgId);
    await this.db.query(
      `UPDATE khala.journal j SET committed_at = now() - $3::interval
         FROM khala.topic_sequences s
        WHERE j.org_id = ANY($1::text[]) AND s.topic = j.topic AND s.org_id = j.org_id
          AND j.watermark <= floor(s.head_watermark * $2::float8)`,
      [orgIds, fraction, AGE_BY],
    );
    const report = await runRetention(this.db);
    const deleted = report.reduce((sum, entry) => sum + entry.deleted, 0);
    this.figures.retentionPasses += 1;
    this.figures.journalRowsRetained += deleted;
    return deleted;
  }

  /** `oa projections rebuild <name> [--reset]`, through the function the CLI command calls. */
  async rebuild(name: 'run_summaries' | 'run_events', reset: boolean): Promise<void> {
    const result = await rebuildProjection(new PostgresEventStore(this.db), this.db, tableProjection(name), { reset, batchSize: 500 });
    if (result.status !== 'swapped') throw new Error(`rebuild ${name} did not swap: ${JSON.stringify(result)}`);
    this.figures.rebuilds += 1;
    if (reset) this.figures.resets += 1;
  }

  /**
   * A projection bug, simulated: the run's summary is overwritten with a wrong document and the
   * wrong version is journaled (so clients receive it), as a faulty projector would have done. A
   * rebuild of run_summaries is what repairs it.
   */
  async corruptSummary(orgId: string, runId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ document: Record<string, unknown>; doc_version: string }>(
        'SELECT document, doc_version FROM runtime.run_summaries WHERE org_id = $1 AND run_id = $2 FOR UPDATE',
        [orgId, runId],
      );
      // Same version, wrong content: what a faulty fold of the same events produces.
      const document = { ...rows[0].document, status: 'bogus', frame_count: -1 };
      const docVersion = Number(rows[0].doc_version);
      const encoded = encodeDocument(document);
      const { watermark } = await appendJournal(
        tx,
        { topic: 'runtime.run_summaries', orgId, docKey: `run_summary:${runId}`, docVersion, document },
        encoded,
      );
      await tx.query(
        'UPDATE runtime.run_summaries SET document = $3, doc_version = $4, payload_hash = $5, watermark = $6, updated_at = now() WHERE org_id = $1 AND run_id = $2',
        [orgId, runId, encoded.text, docVersion, encoded.hash, watermark],
      );
      await notifyJournalAppended(tx);
    });
  }

  // ------------------------------------------------------------------ quiescence and invariants

  /**
   * Waits until the read model holds every acknowledged command and every connected client is
   * live at its topics' heads, then checks the invariants. Never sleeps a fixed time: it polls
   * conditions against a generous deadline and fails early on a subscribe loop or a violation.
   */
  async settle(model: LifecycleModel): Promise<void> {
    this.figures.checks += 1;
    await this.until(() => this.readModelLag(model), 'the read model holds every acknowledged command');
    await this.refreshLedger();
    const connected = this.clients.filter((client) => client.connected);
    await this.until(async () => {
      for (const client of connected) {
        const problem = this.clientProblem(client);
        if (problem) throw new Error(problem);
        const org = this.orgs[client.org];
        const heads = await this.heads(org.identity.orgId, client.topics);
        for (const topic of client.topics) {
          const head = heads.get(topic)!;
          const view = client.views.get(topic)!;
          if (client.watermark(topic) !== head || view.expectedNext - 1 !== head || client.status() !== 'live') {
            return `client ${client.id} (org ${client.org}, ${client.status()}) on ${topic}: SDK watermark ${client.watermark(topic)}, applied through ${view.expectedNext - 1}, head ${head}; subscribes ${view.subscribesTotal}; errors ${summarize(client.errors)}`;
          }
        }
      }
      return undefined;
    }, 'every connected client is live at the head of each of its topics');
    // Awaited to the same deadline, not checked once: the read model may still change after the
    // clients reached the head. readModelLag cannot wait for a corrupted run's summary (it is wrong
    // by design), so a projector can fold that run's last event (a cancel) just after; its update
    // then reaches the clients a moment later (a stressed CI run failed on exactly that).
    await this.until(async () => {
      for (const client of connected) {
        try {
          await this.checkConverged(client, model);
        } catch (error) {
          return (error as Error).message;
        }
      }
      return undefined;
    }, 'every connected client holds what the read model holds');
    for (const client of this.clients) client.startStep();
  }

  /** A subscribe loop or a recorded violation: fail now, the deadline would only hide it. */
  private clientProblem(client: ObservedClient): string | undefined {
    if (client.violations.length) return client.violations.join('; ');
    for (const [topic, view] of client.views) {
      if (view.subscribesThisStep > SUBSCRIBE_BOUND_PER_STEP) {
        return `client ${client.id} sent ${view.subscribesThisStep} sync:subscribe for ${topic} in one step (bound ${SUBSCRIBE_BOUND_PER_STEP}); applied through ${view.expectedNext - 1}; errors ${summarize(client.errors)}`;
      }
    }
    return undefined;
  }

  /** undefined once every acknowledged command of every org is in the read model; else what is missing. */
  private async readModelLag(model: LifecycleModel): Promise<string | undefined> {
    for (const org of this.orgs) {
      const runs = model.orgs[org.index].runs;
      const { rows: summaries } = await this.db.query<{ run_id: string; status: string; frame_count: number }>(
        `SELECT run_id, document->>'status' AS status, (document->>'frame_count')::int AS frame_count FROM runtime.run_summaries WHERE org_id = $1`,
        [org.identity.orgId],
      );
      const { rows: events } = await this.db.query<{ run_id: string; n: string }>(
        'SELECT run_id, count(*) AS n FROM runtime.run_events WHERE org_id = $1 GROUP BY run_id',
        [org.identity.orgId],
      );
      if (summaries.length !== runs.length) return `org ${org.index}: ${summaries.length} run summaries, ${runs.length} runs acknowledged`;
      for (const run of runs) {
        const summary = summaries.find((row) => row.run_id === run.runId);
        const eventCount = Number(events.find((row) => row.run_id === run.runId)?.n ?? 0);
        // A corrupted summary shows the bug, not the commands, until a rebuild (its events still count).
        const summaryWrong = !model.corrupted.has(run.runId) && (summary?.status !== run.status || summary.frame_count !== run.frames);
        if (!summary || summaryWrong || eventCount !== run.events) {
          return `org ${org.index} run ${run.runId}: read model ${JSON.stringify(summary)} with ${eventCount} events; acknowledged status ${run.status}, ${run.frames} frames, ${run.events} events`;
        }
      }
    }
    return undefined;
  }

  private async refreshLedger(): Promise<void> {
    const { rows } = await this.db.query<{ topic: string; org_id: string; watermark: string; doc_key: string; payload_hash: string }>(
      'SELECT topic, org_id, watermark, doc_key, payload_hash FROM khala.journal WHERE org_id = ANY($1::text[])',
      [this.orgs.map((org) => org.identity.orgId)],
    );
    for (const row of rows) {
      const key = `${row.topic}\u0000${row.org_id}`;
      let partition = this.ledger.get(key);
      if (!partition) this.ledger.set(key, (partition = new Map()));
      const entry = { doc_key: row.doc_key, payload_hash: row.payload_hash };
      const known = partition.get(Number(row.watermark));
      if (known && (known.doc_key !== entry.doc_key || known.payload_hash !== entry.payload_hash)) {
        throw new Error(`journal ${row.topic} watermark ${row.watermark} changed content: ${JSON.stringify(known)} → ${JSON.stringify(entry)}`);
      }
      partition.set(Number(row.watermark), entry);
    }
  }

  /**
   * The client's documents equal the read model: a snapshot topic's exactly (every acknowledged
   * run with its acknowledged status); an event topic's are read-model documents, and it holds
   * every one journaled after its base that it was not told it skipped.
   */
  private async checkConverged(client: ObservedClient, model: LifecycleModel): Promise<void> {
    const org = this.orgs[client.org];
    for (const topic of client.topics) {
      const view = client.views.get(topic)!;
      const held = [...view.documents.values()];
      if (topic === 'runtime.run_summaries') {
        const { rows } = await this.db.query<{ run_id: string; document: unknown; payload_hash: string }>(
          'SELECT run_id, document, payload_hash FROM runtime.run_summaries WHERE org_id = $1 ORDER BY run_id',
          [org.identity.orgId],
        );
        const expected = rows.map((row) => ({ doc_key: `run_summary:${row.run_id}`, payload_hash: row.payload_hash, payload: canonicalJson(row.document) }));
        const actual = held
          .map((doc) => ({ doc_key: doc.doc_key, payload_hash: doc.payload_hash, payload: canonicalJson(doc.payload) }))
          .sort((a, b) => (a.doc_key < b.doc_key ? -1 : a.doc_key > b.doc_key ? 1 : 0));
        expected.sort((a, b) => (a.doc_key < b.doc_key ? -1 : a.doc_key > b.doc_key ? 1 : 0));
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          throw new Error(
            `client ${client.id} (org ${client.org}) holds ${actual.length} run summaries, the read model ${expected.length}: ` +
              `missing ${expected.filter((e) => !actual.some((a) => a.doc_key === e.doc_key && a.payload_hash === e.payload_hash)).map((e) => e.doc_key).join(', ') || 'none'}; ` +
              `extra or different ${actual.filter((a) => !expected.some((e) => a.doc_key === e.doc_key && a.payload_hash === e.payload_hash)).map((a) => a.doc_key).join(', ') || 'none'}`,
          );
        }
        const runs = model.orgs[client.org].runs;
        for (const run of runs) {
          if (model.corrupted.has(run.runId)) continue;
          const doc = view.documents.get(`run_summary:${run.runId}`)?.payload as { status?: string; frame_count?: number } | undefined;
          if (doc?.status !== run.status || doc.frame_count !== run.frames) {
            throw new Error(`client ${client.id}: run ${run.runId} shows ${JSON.stringify(doc)}; acknowledged ${run.status} with ${run.frames} frames`);
          }
        }
        continue;
      }
      const runFilter = /^run:(.+):events$/.exec(topic)?.[1];
      const { rows } = await this.db.query<{ run_id: string; seq: string; payload_hash: string }>(
        'SELECT run_id, seq, payload_hash FROM runtime.run_events WHERE org_id = $1 AND ($2::text IS NULL OR run_id = $2)',
        [org.identity.orgId, runFilter ?? null],
      );
      const readModel = new Map(rows.map((row) => [`run_event:${row.run_id}:${row.seq}`, row.payload_hash]));
      for (const doc of held) {
        if (readModel.get(doc.doc_key) !== doc.payload_hash) {
          throw new Error(`client ${client.id} holds ${doc.doc_key} (${doc.payload_hash}) on ${topic}; the read model has ${readModel.get(doc.doc_key) ?? 'nothing'}`);
        }
      }
      const ledger = this.ledger.get(`${topic}\u0000${org.identity.orgId}`) ?? new Map<number, LedgerEntry>();
      for (const [watermark, entry] of ledger) {
        if (watermark <= view.initialBase) continue;
        if (view.skipped.some((range) => watermark >= range.from && watermark <= range.to)) continue;
        if (view.documents.get(entry.doc_key)?.payload_hash !== entry.payload_hash) {
          throw new Error(
            `client ${client.id} (org ${client.org}) on ${topic} lacks ${entry.doc_key} (watermark ${watermark}, after its base ${view.initialBase}, never announced as skipped)`,
          );
        }
        if (readModel.get(entry.doc_key) !== entry.payload_hash) {
          throw new Error(`journal ${topic} watermark ${watermark} carries ${entry.doc_key}, which the read model does not hold as journaled`);
        }
      }
    }
  }

  private async until(probe: () => Promise<string | undefined>, what: string): Promise<void> {
    const deadline = Date.now() + SETTLE_DEADLINE_MS;
    let last: string | undefined;
    for (;;) {
      last = await probe();
      if (last === undefined) return;
      if (Date.now() > deadline) throw new Error(`not settled within ${SETTLE_DEADLINE_MS} ms (${what}): ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

function summarize(errors: string[]): string {
  if (!errors.length) return 'none';
  const counts = new Map<string, number>();
  for (const error of errors) counts.set(error, (counts.get(error) ?? 0) + 1);
  return [...counts].map(([error, n]) => (n > 1 ? `${n} × ${error}` : error)).join(', ');
}
