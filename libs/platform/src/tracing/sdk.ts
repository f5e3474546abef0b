import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { RunningTracing, TracingOptions } from './tracing';

/** The OTLP base endpoint's traces URL (the spec's rule for a signal's path). */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Builds and registers the SDK. Its own module, loaded only when tracing starts: the SDK and the
 * exporter take about a second to load, which a process without tracing should not pay.
 */
export function startSdk(options: TracingOptions): RunningTracing {
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: tracesUrl(options.endpoint) });
  // A short delay: a process that exits (a projector worker's SIGTERM) loses at most this much.
  const processor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    spanProcessors: [processor],
    // Traces only: metrics are Prometheus's (/metrics) and logs are pino's JSON lines. Without
    // these the SDK would default both to OTLP exporters of its own.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer('khala'),
    owners: 1,
    flush: () => processor.forceFlush(),
    shutdown: () => sdk.shutdown(),
  };
}
