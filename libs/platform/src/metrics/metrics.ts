import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { registerEventLoopDelay } from './event-loop-delay';

export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** Every series the apps emit starts with this, prom-client's process and Node.js defaults included. */
export const METRIC_PREFIX = 'khala_';

/**
 * One registry per app, served on that app's own /metrics, so the all-in-one process still reports
 * each app separately under its own `app` label. The process-wide series (khala_process_*,
 * khala_nodejs_*, khala_event_loop_delay_seconds) then appear once per app with the same values.
 */
export function createMetricsRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  registerEventLoopDelay(registry);
  return registry;
}

export function httpRequestHistogram(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'khala_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
