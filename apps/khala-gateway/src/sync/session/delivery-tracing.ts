import { ROOT_CONTEXT, Span, SpanKind } from '@opentelemetry/api';
import { linksFromTraceparents } from '@khala/platform/tracing/traceparent';
import { startSpan } from '@khala/platform/tracing/tracing';
import type { EncodedRow } from '../update-batch';

/**
 * The `sync deliver` span of one batch sent to one subscriber, linked to the trace of each row's
 * event (the `traceparent` its journal row carries). A new trace, not a child of the command: a
 * row goes to every subscriber of its topic. The caller ends it once the frame is handed to the
 * socket. Call only when tracing is on (the caller checks, so delivery allocates nothing otherwise).
 */
export function startDeliverySpan(topic: string, orgId: string, rows: readonly EncodedRow[]): Span {
  return startSpan('sync deliver', {
    kind: SpanKind.PRODUCER,
    parent: ROOT_CONTEXT,
    links: linksFromTraceparents(rows.map(({ row }) => row.traceparent)),
    attributes: {
      'khala.topic': topic,
      'khala.org_id': orgId,
      'khala.rows': rows.length,
      'khala.watermark.first': rows[0]?.watermark ?? 0,
      'khala.watermark.last': rows[rows.length - 1]?.watermark ?? 0,
    },
  });
}
