import { EventFilter, RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { CommittedJournalRow } from '@khala/contracts';
import { committedJournalRows, EncodedDocument, encodeDocument, JOURNAL_WRITTEN_SELECT, JournalAppend, journalAppendCtes } from './journal-writer';
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
  /** W3C trace context of the entity's last event in the batch (the one whose revision is docVersion - 1). */
  traceparent: string | null;
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
      traceparent: typeof last.metadata?.traceparent === 'string' ? last.metadata.traceparent : null,
      order,
    });
  }
  return changes.sort((a, b) => a.order - b.order);
}

/**
 * One document per entity, set-based per batch: one read of every touched document, the pure fold,
 * then the journal append (watermarks per (topic, org)) and the multi-row upsert in one statement. doc_version is the
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

  async project(tx: Queryable, events: readonly RecordedEvent[]): Promise<readonly CommittedJournalRow[]> {
    const { table, idColumn, topic, docKeyPrefix } = this.model;
    const touched = new Map(events.map((event) => [entityKey(eventOrgId(event), this.model.entityId(event)), event]));
    const { rows } = await tx.query<StoredRow<D>>(
      `SELECT ${idColumn} AS id, org_id, document, payload_hash FROM ${table}
        WHERE (org_id, ${idColumn}) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [[...touched.values()].map(eventOrgId), [...touched.values()].map((event) => this.model.entityId(event))],
    );
    const changes = foldSummaries(this.model, events, new Map(rows.map((row) => [entityKey(row.org_id, row.id), row])));
    await this.recordUnchangedRevisions(tx, touched, changes, rows);
    if (changes.length === 0) return [];
    // The journal rows and the upsert that records their watermarks go in one statement.
    const entries: JournalAppend[] = changes.map((change) => ({
      topic,
      orgId: change.document.org_id,
      docKey: `${docKeyPrefix}:${change.id}`,
      docVersion: change.docVersion,
      encoded: change.encoded,
      correlationId: change.correlationId,
      traceparent: change.traceparent,
    }));
    const journal = this.model.journal === false ? undefined : journalAppendCtes(entries);
    const p = (index: number) => `$${(journal?.params.length ?? 0) + index}`;
    const upsert = `INSERT INTO ${table} AS t (${idColumn}, org_id, document, doc_version, payload_hash, watermark, created_at, updated_at, stream_revision)
       SELECT u.id, u.org_id, u.document, u.doc_version, u.payload_hash, ${journal ? 'w.watermark' : '0'}, u.created_at, u.updated_at, u.stream_revision
         FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::jsonb[], ${p(4)}::bigint[], ${p(5)}::text[], ${p(6)}::timestamptz[], ${p(7)}::timestamptz[], ${p(8)}::bigint[])
              WITH ORDINALITY AS u(id, org_id, document, doc_version, payload_hash, created_at, updated_at, stream_revision, ord)
              ${journal ? 'JOIN journal_watermarks w ON w.ord = u.ord' : ''}
       ON CONFLICT (org_id, ${idColumn}) DO UPDATE SET document = EXCLUDED.document, doc_version = EXCLUDED.doc_version,
         payload_hash = EXCLUDED.payload_hash, watermark = EXCLUDED.watermark, updated_at = EXCLUDED.updated_at,
         stream_revision = EXCLUDED.stream_revision`;
    const { rows: written } = await tx.query<{ ord: string; watermark: string }>(journal ? `WITH ${journal.sql}, upserted AS (${upsert}) ${JOURNAL_WRITTEN_SELECT}` : upsert, [
      ...(journal?.params ?? []),
      changes.map((change) => change.id),
      changes.map((change) => change.document.org_id),
      changes.map((change) => change.encoded.text),
      changes.map((change) => change.docVersion),
      changes.map((change) => change.encoded.hash),
      changes.map((change) => change.document.created_at),
      changes.map((change) => change.document.updated_at),
      // doc_version is the revision + 1 of the entity's last event in the batch.
      changes.map((change) => change.docVersion - 1),
    ]);
    return journal ? committedJournalRows(entries, written) : [];
  }

  /**
   * Read-your-writes waits for a row's stream_revision (GET ...?min_revision=N): an entity whose
   * events in this batch left its document unchanged still records that they were folded. Rare
   * (identical documents), so usually no statement at all.
   */
  private async recordUnchangedRevisions(
    tx: Queryable,
    touched: ReadonlyMap<string, RecordedEvent>,
    changes: readonly SummaryChange<D>[],
    stored: readonly StoredRow<D>[],
  ): Promise<void> {
    const changed = new Set(changes.map((change) => entityKey(change.document.org_id, change.id)));
    const unchanged = stored
      .map((row) => ({ row, last: touched.get(entityKey(row.org_id, row.id)) }))
      .filter((entry): entry is { row: StoredRow<D>; last: RecordedEvent } => !!entry.last && !changed.has(entityKey(entry.row.org_id, entry.row.id)));
    if (unchanged.length === 0) return;
    await tx.query(
      `UPDATE ${this.model.table} t SET stream_revision = u.revision
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(org_id, id, revision)
        WHERE t.org_id = u.org_id AND t.${this.model.idColumn} = u.id AND t.stream_revision < u.revision`,
      [unchanged.map(({ row }) => row.org_id), unchanged.map(({ row }) => row.id), unchanged.map(({ last }) => Number(last.revision))],
    );
  }
}
