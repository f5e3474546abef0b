import { EventFilter, RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { escapeLiteral } from 'pg';
import { CommittedJournalRow } from '@khala/contracts';
import { committedJournalRows, EncodedDocument, encodeDocument, JOURNAL_WRITTEN_SELECT, JournalAppend, journalAppendCtes } from './journal-writer';
import { FailurePolicy, Projection } from './projection';
import { requireText } from './projections.error';

/** What differs between per-event read models (run events, worker events). */
export interface EventLogModel {
  name: string;
  version: number;
  filter: EventFilter;
  failurePolicy?: FailurePolicy;
  table: string;
  /** false for shadow/scratch tables: no journal rows (default true). */
  journal?: boolean;
  idColumn: 'run_id' | 'worker_id';
  /** The org-partitioned class topic, e.g. runtime.run_events. */
  classTopic: string;
  /** The entity topic, e.g. run:<id>:events (stored under the owning org). */
  entityTopic(id: string): string;
  docKeyPrefix: string;
  entityId(event: RecordedEvent): string;
  include(event: RecordedEvent): boolean;
  /** Name of the entity id field in the document. */
  idField: 'run_id' | 'worker_id';
}

export interface EventLogEntry {
  id: string;
  seq: number;
  orgId: string;
  type: string;
  encoded: EncodedDocument;
  correlationId: string | null;
  traceparent: string | null;
}

/** The pure part: one immutable document per event, seq = stream revision + 1. */
export function eventLogEntries(model: Pick<EventLogModel, 'entityId' | 'include' | 'idField'>, events: readonly RecordedEvent[]): EventLogEntry[] {
  const entries: EventLogEntry[] = [];
  for (const event of events) {
    if (!model.include(event)) continue;
    const id = model.entityId(event);
    const orgId = requireText(event.data, 'org_id', event.type);
    const seq = Number(event.revision) + 1;
    const document = {
      seq,
      event_id: event.id,
      type: event.type,
      [model.idField]: id,
      org_id: orgId,
      occurred_at: typeof event.data.occurred_at === 'string' ? event.data.occurred_at : null,
      data: event.data,
    };
    entries.push({
      id,
      seq,
      orgId,
      type: event.type,
      encoded: encodeDocument(document),
      correlationId: typeof event.metadata?.correlation_id === 'string' ? event.metadata.correlation_id : null,
      traceparent: typeof event.metadata?.traceparent === 'string' ? event.metadata.traceparent : null,
    });
  }
  return entries;
}

/**
 * Every event as its own document, journaled twice: on the org's class topic and on the entity's
 * own topic, each with its own dense watermark sequence. One multi-row upsert tells which rows are
 * new or changed (a replay of identical content returns nothing), and only those are journaled.
 */
export class EventLogProjection implements Projection {
  readonly name: string;
  readonly version: number;
  readonly filter: EventFilter;
  readonly failurePolicy?: FailurePolicy;

  constructor(readonly model: EventLogModel) {
    this.name = model.name;
    this.version = model.version;
    this.filter = model.filter;
    this.failurePolicy = model.failurePolicy;
  }

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<readonly CommittedJournalRow[]> {
    const { table, idColumn, classTopic, docKeyPrefix } = this.model;
    const entries = eventLogEntries(this.model, events);
    if (entries.length === 0) return [];
    // Keyed per org: a client-chosen id (codex workers) may exist in two orgs.
    const upsert = `INSERT INTO ${table} AS t (${idColumn}, seq, org_id, event_type, document, payload_hash)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::text[])
       ON CONFLICT (org_id, ${idColumn}, seq) DO UPDATE SET event_type = EXCLUDED.event_type,
         document = EXCLUDED.document, payload_hash = EXCLUDED.payload_hash
       WHERE t.payload_hash <> EXCLUDED.payload_hash
       RETURNING ${idColumn} AS id, seq, org_id`;
    const params = [
      entries.map((entry) => entry.id),
      entries.map((entry) => entry.seq),
      entries.map((entry) => entry.orgId),
      entries.map((entry) => entry.type),
      entries.map((entry) => entry.encoded.text),
      entries.map((entry) => entry.encoded.hash),
    ];
    if (this.model.journal === false) {
      await tx.query(upsert, params);
      return [];
    }
    const journal: JournalAppend[] = entries.flatMap((entry) => {
      const row = { orgId: entry.orgId, docKey: eventDocKey(docKeyPrefix, entry.id, entry.seq), docVersion: 1, encoded: entry.encoded, correlationId: entry.correlationId, traceparent: entry.traceparent };
      return [{ topic: classTopic, ...row }, { topic: this.model.entityTopic(entry.id), ...row }];
    });
    // One statement: the upsert, then journal rows only for what it wrote (new or changed content).
    const { sql, params: journalParams } = journalAppendCtes(journal, {
      firstParam: params.length + 1,
      keepIf: `EXISTS (SELECT 1 FROM written w WHERE w.org_id = j.org_id AND j.doc_key = ${sqlDocKey(docKeyPrefix, 'w')})`,
    });
    const { rows } = await tx.query<{ ord: string; watermark: string }>(`WITH written AS (${upsert}), ${sql} ${JOURNAL_WRITTEN_SELECT}`, [
      ...params,
      ...journalParams,
    ]);
    return committedJournalRows(journal, rows);
  }
}

const eventDocKey = (prefix: string, id: string, seq: number | string) => `${prefix}:${id}:${seq}`;
/** eventDocKey in SQL, over a row with columns id and seq. */
const sqlDocKey = (prefix: string, row: string) => `${escapeLiteral(`${prefix}:`)} || ${row}.id || ':' || ${row}.seq`;
