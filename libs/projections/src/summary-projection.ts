import { EventFilter, RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { appendJournalBatch, EncodedDocument, encodeDocument } from './journal-writer';
import { FailurePolicy, Projection } from './projection';

/** A summary document: one per entity, carrying its org and its timestamps. */
export interface SummaryDocument {
  org_id: string;
  created_at: string;
  updated_at: string;
}

/** What differs between summary read models; the SQL and the journal handling are shared. */
export interface SummaryModel<D extends SummaryDocument> {
  name: string;
  version: number;
  filter: EventFilter;
  failurePolicy?: FailurePolicy;
  topic: string;
  table: string;
  /** false for shadow/scratch tables: no journal rows (default true). */
  journal?: boolean;
  idColumn: 'run_id' | 'worker_id';
  docKeyPrefix: string;
  entityId(event: RecordedEvent): string;
  /** Pure: the next document, or the same object when the event changes nothing. */
  evolve(document: D | undefined, event: RecordedEvent): D | undefined;
}

interface StoredRow<D> {
  id: string;
  org_id: string;
  document: D;
  payload_hash: string;
}

export interface SummaryChange<D> {
  id: string;
  document: D;
  encoded: EncodedDocument;
  docVersion: number;
  correlationId: string | null;
  /** Index of the entity's last event in the batch: journal rows follow event order. */
  order: number;
}

/**
 * Entities are identified per org: a client-chosen id (codex workers) may exist in two orgs, and
 * each org's entity has its own row, document and journal entries.
 */
export const entityKey = (orgId: string, id: string) => `${orgId}\u0000${id}`;

const eventOrgId = (event: RecordedEvent) => (typeof event.data.org_id === 'string' ? event.data.org_id : '');

/**
 * The pure part of a summary batch: fold each touched entity's events onto its stored document
 * (`stored` is keyed by entityKey) and keep the ones whose canonical hash changed.
 */
export function foldSummaries<D extends SummaryDocument>(
  model: Pick<SummaryModel<D>, 'entityId' | 'evolve'>,
  events: readonly RecordedEvent[],
  stored: ReadonlyMap<string, { document: D; payload_hash: string }>,
): SummaryChange<D>[] {
  const touched = new Map<string, { id: string; document: D | undefined; last: RecordedEvent; order: number }>();
  events.forEach((event, order) => {
    const id = model.entityId(event);
    const key = entityKey(eventOrgId(event), id);
    const entry = touched.get(key);
    const before = entry ? entry.document : stored.get(key)?.document;
    const document = model.evolve(before, event);
    if (entry) {
      entry.document = document;
      entry.last = event;
      entry.order = order;
    } else {
      touched.set(key, { id, document, last: event, order });
    }
  });
  const changes: SummaryChange<D>[] = [];
  for (const [key, { id, document, last, order }] of touched) {
    const previous = stored.get(key);
    if (!document || document === previous?.document) continue;
    const encoded = encodeDocument(document);
    if (previous && previous.payload_hash === encoded.hash) continue;
    changes.push({
      id,
      document,
      encoded,
      docVersion: Number(last.revision) + 1,
      correlationId: typeof last.metadata?.correlation_id === 'string' ? last.metadata.correlation_id : null,
      order,
    });
  }
  return changes.sort((a, b) => a.order - b.order);
}

/**
 * One document per entity, set-based per batch: one read of every touched document, the pure fold,
 * one journal append (watermarks per (topic, org)) and one multi-row upsert. doc_version is the
 * stream revision + 1 of the entity's last event in the batch, so a rebuild yields the same versions.
 */
export class SummaryProjection<D extends SummaryDocument> implements Projection {
  readonly name: string;
  readonly version: number;
  readonly filter: EventFilter;
  readonly failurePolicy?: FailurePolicy;

  constructor(readonly model: SummaryModel<D>) {
    this.name = model.name;
    this.version = model.version;
    this.filter = model.filter;
    this.failurePolicy = model.failurePolicy;
  }

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<void> {
    const { table, idColumn, topic, docKeyPrefix } = this.model;
    const touched = new Map(events.map((event) => [entityKey(eventOrgId(event), this.model.entityId(event)), event]));
    const { rows } = await tx.query<StoredRow<D>>(
      `SELECT ${idColumn} AS id, org_id, document, payload_hash FROM ${table}
        WHERE (org_id, ${idColumn}) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [[...touched.values()].map(eventOrgId), [...touched.values()].map((event) => this.model.entityId(event))],
    );
    const changes = foldSummaries(this.model, events, new Map(rows.map((row) => [entityKey(row.org_id, row.id), row])));
    if (changes.length === 0) return;
    const watermarks = this.model.journal === false ? changes.map(() => 0) : await appendJournalBatch(
      tx,
      changes.map((change) => ({
        topic,
        orgId: change.document.org_id,
        docKey: `${docKeyPrefix}:${change.id}`,
        docVersion: change.docVersion,
        encoded: change.encoded,
        correlationId: change.correlationId,
      })),
    );
    await tx.query(
      `INSERT INTO ${table} AS t (${idColumn}, org_id, document, doc_version, payload_hash, watermark, created_at, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::text[], $6::bigint[], $7::timestamptz[], $8::timestamptz[])
       ON CONFLICT (org_id, ${idColumn}) DO UPDATE SET document = EXCLUDED.document, doc_version = EXCLUDED.doc_version,
         payload_hash = EXCLUDED.payload_hash, watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at`,
      [
        changes.map((change) => change.id),
        changes.map((change) => change.document.org_id),
        changes.map((change) => change.encoded.text),
        changes.map((change) => change.docVersion),
        changes.map((change) => change.encoded.hash),
        watermarks,
        changes.map((change) => change.document.created_at),
        changes.map((change) => change.document.updated_at),
      ],
    );
  }
}
