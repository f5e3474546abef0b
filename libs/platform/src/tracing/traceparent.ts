import { isSpanContextValid, Link, SpanContext, TraceFlags } from '@opentelemetry/api';

/**
 * W3C trace context (`traceparent`) as kept in event metadata and journal rows: the pure
 * formatting and parsing, so a stored value is read the same way wherever it travels.
 */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The span context a stored `traceparent` names; undefined for anything that is not a valid version-00 value. */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * One link per distinct trace context among `values` (a batch of events from one command shares
 * one), skipping what is absent or malformed. At most `max`: a catch-up batch of thousands of
 * events must not make a span of thousands of links.
 */
export function linksFromTraceparents(values: Iterable<unknown>, max = 128): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const value of values) {
    if (links.length >= max) break;
    if (typeof value !== 'string' || seen.has(value)) continue;
    seen.add(value);
    const context = parseTraceparent(value);
    if (context) links.push({ context });
  }
  return links;
}
