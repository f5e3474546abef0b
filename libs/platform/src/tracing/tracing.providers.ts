import { Inject, Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CommonEnv } from '../config/common-env';
import type { AppName } from '../database/database-url';
import { APP_ENV, APP_NAME } from '../platform.tokens';
import { HttpServerSpanInterceptor } from './http-server-span.interceptor';
import { startTracing, stopTracing } from './tracing';

/** Starts the process's tracing when the app has an OTLP endpoint, and releases it at shutdown (flushing the last spans). */
@Injectable()
export class TracingLifecycle implements OnApplicationShutdown {
  private readonly started: boolean;

  constructor(@Inject(APP_NAME) app: AppName, @Inject(APP_ENV) env: CommonEnv) {
    const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    this.started = endpoint !== undefined;
    if (endpoint !== undefined) startTracing({ endpoint, serviceName: `khala-${app}` });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.started) await stopTracing();
  }
}

/**
 * What PlatformModule adds for traces: the lifecycle always, the HTTP server span interceptor only
 * when tracing is on (an interceptor left registered would still sit in every request's chain).
 */
export function tracingProviders(env: CommonEnv): Provider[] {
  return [
    TracingLifecycle,
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? [{ provide: APP_INTERCEPTOR, useClass: HttpServerSpanInterceptor }] : []),
  ];
}
