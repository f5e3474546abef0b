import { ROOT_CONTEXT, Span, trace } from '@opentelemetry/api';
import { CommittedJournalRow } from '@khala/contracts';
import { RecordedEvent } from '@khala/eventstore';
import { Queryable } from '@khala/platform';
import { linksFromTraceparents } from '@khala/platform/tracing/traceparent';
import { inSpan, recordFailure, startSpan } from '@khala/platform/tracing/tracing';
import { Projection } from '../projection';

/**
 * The spans of one projector batch (one transaction): `projection batch <name>`, a new trace
 * linked to the trace of each event's command (the `traceparent` its append left in the event's
 * metadata), and inside it `journal write`, the projection's statement that writes the read model
 * and the journal rows. Made only when tracing is on.
 */
export class BatchTrace {
  private readonly span: Span;

  constructor(projection: Projection, events: readonly RecordedEvent[]) {
    this.span = startSpan(`projection batch ${projection.name}`, {
      parent: ROOT_CONTEXT,
      links: linksFromTraceparents(events.map((event) => event.metadata?.traceparent)),
      attributes: {
        'khala.projection': projection.name,
        'khala.projection.version': projection.version,
        'khala.events': events.length,
        'khala.position.commit': events[events.length - 1]?.position.commit.toString() ?? '',
      },
    });
  }

  /** Runs the projection's write as the batch span's child `journal write`. */
  project(projection: Projection, tx: Queryable, events: readonly RecordedEvent[]): Promise<void | readonly CommittedJournalRow[]> {
    return inSpan('journal write', { parent: trace.setSpan(ROOT_CONTEXT, this.span) }, async (span) => {
      const written = await projection.project(tx, events);
      span?.setAttribute('khala.journal.rows', written?.length ?? 0);
      if (written?.length) span?.setAttribute('khala.journal.topics', [...new Set(written.map((row) => row.topic))]);
      return written;
    });
  }

  /** The batch committed (or failed: it will be retried, split or parked, each attempt its own batch span). */
  end(error?: unknown): void {
    if (error !== undefined) recordFailure(this.span, error);
    this.span.end();
  }
}
