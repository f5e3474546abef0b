import pino from 'pino';
import { EventStore } from '@khala/eventstore';
import { createScratchDatabase, Database, migrateUp } from '@khala/platform';
import { createRuntimeRunners } from '../../../apps/runtime/src/projections/runtime-projections';
import { SentCommand } from './command-load';
import { SubscriberFleet } from './subscriber-fleet';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StoreCheck {
  /** Events of the scenario's orgs in the store. */
  events: number;
  acknowledged: number;
  /** Acknowledged commands with no event in the store. */
  lost: number;
  /** Commands (acknowledged or not) whose event is in the store more than once. */
  duplicated: number;
  problems: string[];
  /** Events per run stream (of the scenario's orgs). */
  perStream: Map<string, number>;
}

const commandKey = (runId: string, what: string) => `run-${runId}#${what}`;

/** Every acknowledged command is in the event store exactly once; no command is in it twice. */
export async function checkCommandsInStore(store: EventStore, commands: SentCommand[], orgs: Set<string>): Promise<StoreCheck> {
  const counts = new Map<string, number>();
  const perStream = new Map<string, number>();
  let events = 0;
  for await (const event of store.readAll({ filter: { streamPrefixes: ['run-'] } })) {
    if (!orgs.has(event.data.org_id as string)) continue;
    events += 1;
    perStream.set(event.stream, (perStream.get(event.stream) ?? 0) + 1);
    const what = event.type === 'RunCreated' ? 'created' : typeof event.data.frame_id === 'string' ? `frame:${event.data.frame_id}` : `${event.type}:${event.id}`;
    const key = `${event.stream}#${what}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const problems: string[] = [];
  let lost = 0;
  let duplicated = 0;
  for (const command of commands) {
    if (!command.runId) continue; // a create never acknowledged: its run id is unknown (checked below via duplicates)
    const key = commandKey(command.runId, command.kind === 'create' ? 'created' : `frame:${command.frameId}`);
    const count = counts.get(key) ?? 0;
    if (command.outcome === 'acknowledged' && count === 0) {
      lost += 1;
      problems.push(`lost: ${command.kind} ${key} (${command.attempts} attempts)`);
    }
  }
  for (const [key, count] of counts) {
    if (count > 1) {
      duplicated += 1;
      problems.push(`duplicated ×${count}: ${key}`);
    }
  }
  return { events, acknowledged: commands.filter((c) => c.outcome === 'acknowledged').length, lost, duplicated, problems: problems.slice(0, 20), perStream };
}

interface JournalRow {
  topic: string;
  org_id: string;
  watermark: number;
  doc_key: string;
  doc_version: number;
  payload_hash: string;
}

async function journalRows(db: Database): Promise<JournalRow[]> {
  const { rows } = await db.query<JournalRow & { watermark: string; doc_version: string }>(
    `SELECT topic, org_id, watermark, doc_key, doc_version, payload_hash FROM khala.journal ORDER BY topic, org_id, watermark`,
  );
  return rows.map((row) => ({ ...row, watermark: Number(row.watermark), doc_version: Number(row.doc_version) }));
}

const isEventTopic = (topic: string) => topic === 'runtime.run_events' || /^run:.*:events$/.test(topic);

/**
 * Differences between the live journal and a fresh rebuild's. Per-event topics must be identical
 * row for row; summary topics may coalesce versions differently per batch, so there each (topic,
 * org) must be dense from 1, each document's versions must only go up, and the last version of
 * every document must be the rebuild's.
 */
export function diffJournals(live: JournalRow[], rebuilt: JournalRow[]): string[] {
  const diffs: string[] = [];
  const group = (rows: JournalRow[]) => {
    const groups = new Map<string, JournalRow[]>();
    for (const row of rows) {
      const key = `${row.topic}|${row.org_id}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    return groups;
  };
  const liveGroups = group(live);
  const rebuiltGroups = group(rebuilt);
  for (const key of new Set([...liveGroups.keys(), ...rebuiltGroups.keys()])) {
    const a = liveGroups.get(key) ?? [];
    const b = rebuiltGroups.get(key) ?? [];
    a.forEach((row, i) => {
      if (row.watermark !== i + 1) diffs.push(`${key}: live watermark ${row.watermark} at index ${i} (gap or duplicate)`);
    });
    if (isEventTopic(key.split('|')[0])) {
      const text = (rows: JournalRow[]) => rows.map((r) => `${r.watermark} ${r.doc_key} ${r.doc_version} ${r.payload_hash}`);
      const [ta, tb] = [text(a), text(b)];
      if (ta.length !== tb.length) diffs.push(`${key}: live has ${ta.length} rows, rebuild ${tb.length}`);
      const first = ta.findIndex((line, i) => line !== tb[i]);
      if (first >= 0) diffs.push(`${key}: first difference at row ${first}: live "${ta[first]}" vs rebuild "${tb[first]}"`);
      continue;
    }
    const last = (rows: JournalRow[], checkOrder: boolean) => {
      const byDoc = new Map<string, string>();
      const versions = new Map<string, number>();
      for (const row of rows) {
        if (checkOrder && row.doc_version <= (versions.get(row.doc_key) ?? 0)) diffs.push(`${key}: ${row.doc_key} version ${row.doc_version} after ${versions.get(row.doc_key)}`);
        versions.set(row.doc_key, row.doc_version);
        byDoc.set(row.doc_key, `${row.doc_version} ${row.payload_hash}`);
      }
      return byDoc;
    };
    const [la, lb] = [last(a, true), last(b, false)];
    for (const doc of new Set([...la.keys(), ...lb.keys()])) {
      if (la.get(doc) !== lb.get(doc)) diffs.push(`${key}: ${doc} live "${la.get(doc)}" vs rebuild "${lb.get(doc)}"`);
    }
  }
  return diffs;
}

/**
 * Rebuilds runtime's projections from the event store into a fresh database on the same server
 * and diffs the journals; polls until they agree (both sides may still be catching up) or the
 * time is up, then returns what still differs.
 */
export async function compareJournalWithRebuild(options: { serverUrl: string; liveDb: Database; store: EventStore; timeoutMs?: number }): Promise<string[]> {
  const scratch = await createScratchDatabase({ serverUrl: options.serverUrl, prefix: 'khala_faults_rebuild' });
  const db = await Database.connect({ url: scratch.url, max: 4 });
  try {
    await migrateUp(db);
    const runners = createRuntimeRunners(options.store, db, silent, { statsEveryMs: 0 });
    for (const runner of runners) runner.start();
    try {
      const deadline = Date.now() + (options.timeoutMs ?? 60_000);
      for (;;) {
        const diffs = diffJournals(await journalRows(options.liveDb), await journalRows(db));
        if (diffs.length === 0 || Date.now() > deadline) return diffs.slice(0, 20);
        await sleep(250);
      }
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
    }
  } finally {
    await db.close();
    await scratch.drop();
  }
}

export interface SubscriberCheck {
  subscribers: number;
  /** Subscribers whose applied state differs from the snapshot. */
  mismatched: number;
  /** Watermarks below the head never delivered, summed over subscribers and topics. */
  gaps: number;
  /** Document versions delivered at more than one watermark, after dedupe by watermark. */
  duplicates: number;
  /** Deliveries at or below the applied watermark (reconnect overlap), dropped by the client. */
  redelivered: number;
  problems: string[];
}

/** The head watermark of each org's topic, from the journal's sequence table. */
export async function headWatermarks(db: Database, topic: string, orgs: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ org_id: string; head_watermark: string }>(
    'SELECT org_id, head_watermark FROM khala.topic_sequences WHERE topic = $1 AND org_id = ANY($2)',
    [topic, orgs],
  );
  return new Map(orgs.map((org) => [org, Number(rows.find((row) => row.org_id === org)?.head_watermark ?? 0)]));
}

/** Every page of the org's snapshot of `topic` (the gateway's snapshot route). */
export async function fetchSnapshot(gatewayUrl: string, topic: string, token: string): Promise<{ watermark: number; documents: Map<string, string> }> {
  const documents = new Map<string, string>();
  let watermark = 0;
  let pageToken: string | null = null;
  do {
    const url = new URL('/api/sync/snapshot', gatewayUrl);
    url.searchParams.set('topic', topic);
    url.searchParams.set('page_size', '500');
    if (pageToken) url.searchParams.set('page_token', pageToken);
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`snapshot ${topic} answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { watermark: number; documents: { doc_key: string; doc_version: number; payload_hash: string }[]; next_page_token: string | null };
    watermark = page.watermark;
    for (const document of page.documents) documents.set(document.doc_key, `${document.doc_version} ${document.payload_hash}`);
    pageToken = page.next_page_token;
  } while (pageToken);
  return { watermark, documents };
}

/**
 * Once every subscriber reached the head: each one's applied run summaries equal a fresh snapshot,
 * every watermark 1..head was delivered, and no document version came at two watermarks.
 */
export async function checkSubscribers(options: {
  fleet: SubscriberFleet;
  db: Database;
  gatewayUrl: string;
  syncTokens: Map<string, () => Promise<string>>;
  timeoutMs?: number;
}): Promise<SubscriberCheck> {
  const { fleet } = options;
  const orgs = [...options.syncTokens.keys()];
  const problems: string[] = [];
  const check: SubscriberCheck = { subscribers: fleet.subscribers.length, mismatched: 0, gaps: 0, duplicates: 0, redelivered: 0, problems };
  const topics = [...(fleet.subscribers[0]?.topics.keys() ?? [])];
  const heads = new Map<string, Map<string, number>>();
  for (const topic of topics) {
    const head = await headWatermarks(options.db, topic, orgs);
    heads.set(topic, head);
    await fleet.waitForWatermark(topic, head, options.timeoutMs ?? 60_000);
  }
  const snapshots = new Map<string, { watermark: number; documents: Map<string, string> }>();
  if (topics.includes('runtime.run_summaries')) {
    for (const org of orgs) snapshots.set(org, await fetchSnapshot(options.gatewayUrl, 'runtime.run_summaries', await options.syncTokens.get(org)!()));
  }
  for (const subscriber of fleet.subscribers) {
    let mismatched = false;
    for (const [topic, record] of subscriber.topics) {
      const head = heads.get(topic)!.get(subscriber.orgId)!;
      check.redelivered += record.redelivered;
      for (let watermark = 1; watermark <= head; watermark++) {
        if (!record.byWatermark.has(watermark)) check.gaps += 1;
      }
      const versions = new Map<string, number>();
      for (const { doc_key, doc_version } of record.byWatermark.values()) {
        const key = `${doc_key}@${doc_version}`;
        versions.set(key, (versions.get(key) ?? 0) + 1);
      }
      for (const count of versions.values()) if (count > 1) check.duplicates += count - 1;
      if (record.conflicting) {
        mismatched = true;
        problems.push(`${subscriber.orgId} ${topic}: ${record.conflicting} watermarks delivered with different content`);
      }
      const snapshot = snapshots.get(subscriber.orgId);
      if (topic === 'runtime.run_summaries' && snapshot) {
        const applied = new Map([...record.documents].map(([key, doc]) => [key, `${doc.doc_version} ${doc.payload_hash}`]));
        const differs = [...new Set([...applied.keys(), ...snapshot.documents.keys()])].filter((key) => applied.get(key) !== snapshot.documents.get(key));
        if (subscriber.client.watermark(topic) !== snapshot.watermark || differs.length) {
          mismatched = true;
          if (problems.length < 20) {
            problems.push(`${subscriber.orgId}: applied@${subscriber.client.watermark(topic)} vs snapshot@${snapshot.watermark}; differs on ${differs.slice(0, 3).join(', ')}`);
          }
        }
      }
    }
    if (mismatched) check.mismatched += 1;
  }
  return check;
}
