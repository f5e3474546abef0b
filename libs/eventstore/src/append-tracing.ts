import { Context, isSpanContextValid, Span, SpanKind } from '@opentelemetry/api';
import { formatTraceparent } from '@khala/platform/tracing/traceparent';
import { recordFailure, startSpan } from '@khala/platform/tracing/tracing';
import { NewEvent } from './event-store.port';

/** The events one command contributes to an append, and the trace context it was sent in. */
export interface TracedAppendPart {
  parent: Context | undefined;
  events: NewEvent[];
}

/**
 * One `eventstore append` span per command in the append (a queued batch carries the events of
 * several commands, each from its own request and trace), a child of that command's context. Each
 * event's metadata keeps its span's W3C `traceparent`, so the projector batch that reads it and
 * the gateway that delivers what it became can link back to the command's trace. Call only when
 * tracing is on.
 */
export function startAppendSpans(stream: string, expectedRevision: string, parts: readonly TracedAppendPart[]): Span[] {
  const spans: Span[] = [];
  for (const part of parts) {
    if (part.events.length === 0) continue;
    const span = startSpan('eventstore append', {
      kind: SpanKind.CLIENT,
      parent: part.parent,
      attributes: {
        'khala.stream': stream,
        'khala.events': part.events.length,
        'khala.event_types': [...new Set(part.events.map((event) => event.type))],
        'khala.expected_revision': expectedRevision,
        'khala.batch_events': parts.reduce((sum, other) => sum + other.events.length, 0),
      },
    });
    const spanContext = span.spanContext();
    if (isSpanContextValid(spanContext)) {
      const traceparent = formatTraceparent(spanContext);
      for (const event of part.events) event.metadata.traceparent = traceparent;
    }
    spans.push(span);
  }
  return spans;
}

/** Ends the append's spans: with the revision the stream reached, or failed with the error. */
export function endAppendSpans(spans: readonly Span[], outcome: { nextExpectedRevision: bigint } | { error: unknown }): void {
  for (const span of spans) {
    if ('error' in outcome) recordFailure(span, outcome.error);
    else span.setAttribute('khala.next_expected_revision', outcome.nextExpectedRevision.toString());
    span.end();
  }
}
