import {
  Attributes,
  context,
  Context,
  isSpanContextValid,
  Link,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
  Tracer,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry traces for the whole process, off unless an app was given an OTLP endpoint.
 *
 * Off, nothing is registered: the API stays the no-op one, and every call site checks
 * tracingEnabled() (a module variable) before it touches the API, so the command path allocates
 * nothing for tracing. On, one NodeSDK per process (the embedded entry runs several apps in one)
 * exports over OTLP/HTTP (JSON), and the spans are made by hand at the call sites: no
 * auto-instrumentation, so the SDK need not start before the app's modules load.
 */
export interface RunningTracing {
  tracer: Tracer;
  owners: number;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let running: RunningTracing | undefined;

export interface TracingOptions {
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT): spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** service.name of the process: the first app that starts tracing names it. */
  serviceName: string;
  /** Another exporter than OTLP/HTTP (tests). */
  exporter?: SpanExporter;
}

/** True once some app of this process started tracing: the one check call sites make first. */
export function tracingEnabled(): boolean {
  return running !== undefined;
}

/** The tracer of the running SDK. Call only when tracingEnabled(). */
export function tracer(): Tracer {
  if (!running) throw new Error('tracing is not started');
  return running.tracer;
}

/**
 * Starts the process's SDK, or joins the one already running (another app of the same process).
 * Each call is matched by one stopTracing(); the last one flushes and shuts the SDK down.
 */
export function startTracing(options: TracingOptions): void {
  if (running) {
    running.owners += 1;
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing starts (see sdk.ts)
  const { startSdk } = require('./sdk') as typeof import('./sdk');
  running = startSdk(options);
}

/** Exports the spans ended so far (tests wait on it instead of the batch delay). */
export async function flushTraces(): Promise<void> {
  await running?.flush();
}

/** Releases one startTracing(); the last flushes the spans and unregisters the SDK. */
export async function stopTracing(): Promise<void> {
  if (!running || --running.owners > 0) return;
  const { shutdown } = running;
  running = undefined;
  await shutdown();
  // Unregistered, so a later start in this process (a test's second system) registers afresh.
  trace.disable();
  propagation.disable();
  context.disable();
}

/** The context the incoming W3C `traceparent` (and `tracestate`) headers continue; the root context when absent. */
export function contextFromHeaders(headers: Record<string, unknown> | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
}

export interface SpanSpec {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent; the active context when absent. ROOT_CONTEXT starts a new trace. */
  parent?: Context;
}

/** Starts a span (call only when tracingEnabled()). */
export function startSpan(name: string, spec: SpanSpec = {}): Span {
  return tracer().startSpan(name, { kind: spec.kind, attributes: spec.attributes, links: spec.links }, spec.parent ?? context.active());
}

/** Marks a span failed with the error, as every call site reports one. */
export function recordFailure(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `fn` inside a new span that is active for its whole async extent; the span ends when the
 * promise settles and records a failure. Without tracing, `fn` runs as it is.
 */
export function inSpan<T>(name: string, spec: SpanSpec, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!running) return fn(undefined);
  const span = startSpan(name, spec);
  return context.with(trace.setSpan(spec.parent ?? context.active(), span), () =>
    fn(span).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        recordFailure(span, error);
        span.end();
        throw error;
      },
    ),
  );
}

/** trace_id and span_id of the active span, for log lines; undefined without tracing or a span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!running) return undefined;
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : undefined;
}
