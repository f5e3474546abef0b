import { EventLogProjection } from '../event-log-projection';
import { ProjectionOverrides } from '../projection';
import { SummaryDocument, SummaryProjection } from '../summary-projection';

/** A projection whose read model is one table, so it can be shadowed, diffed and swapped. */
export type TableProjection = SummaryProjection<SummaryDocument> | EventLogProjection;

/** Builds a table projection into its live table, or with overrides into another (a shadow, a scratch schema). */
export type TableProjectionFactory = (overrides?: ProjectionOverrides) => TableProjection;

export function isSummary(projection: TableProjection): projection is SummaryProjection<SummaryDocument> {
  return projection instanceof SummaryProjection;
}

/** The key columns of a projection's table. */
export function keyColumns(projection: TableProjection): string[] {
  return isSummary(projection)
    ? ['org_id', projection.model.idColumn]
    : ['org_id', projection.model.idColumn, 'seq'];
}

/** A rebuild or replay that cannot go on as asked (reported to the operator as one line). */
export class RebuildRefused extends Error {}
