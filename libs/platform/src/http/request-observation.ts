import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { correlationIdFrom, runWithCorrelationId } from '../logging/correlation';
import { loggablePath } from '../logging/logger';
import { httpRequestHistogram } from '../metrics/metrics';
import { securityHeadersFor } from './security-headers';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's x-correlation-id (the caller's if it is plain, else a new one). */
    correlationId: string;
    /** process.hrtime.bigint() when the request arrived. */
    receivedAt: bigint;
  }
}

export function correlationIdOf(request: FastifyRequest): string {
  return request.correlationId || 'none';
}

/**
 * What every request gets whatever it asks for: a correlation id (echoed, logged, in event
 * metadata), `cache-control: no-store`, the security headers, and on completion one access-log
 * line and one observation of khala_http_request_duration_seconds.
 *
 * The correlation id is entered when the request arrives, for everything after: Fastify resumes a
 * request after reading its body in the async context it was read from (an AsyncResource), so the
 * handler of a request with a body sees it too (test/runtime/run-commands: "travels into the
 * metadata of every event").
 */
export function observeRequests(app: FastifyInstance, logger: Logger, registry: Registry): void {
  const requestDuration = httpRequestHistogram(registry);
  app.decorateRequest('correlationId', '');
  app.decorateRequest('receivedAt', BigInt(0));
  app.addHook('onRequest', (request, reply, done) => {
    request.receivedAt = process.hrtime.bigint();
    const correlationId = correlationIdFrom(request.headers['x-correlation-id']);
    request.correlationId = correlationId;
    reply.headers(securityHeadersFor(request.url));
    reply.header('x-correlation-id', correlationId).header('cache-control', 'no-store');
    runWithCorrelationId(correlationId, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const seconds = Number(process.hrtime.bigint() - request.receivedAt) / 1e9;
    const status = reply.statusCode;
    requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(status) }, seconds);
    runWithCorrelationId(request.correlationId, () =>
      logger.info({ method: request.method, path: loggablePath(request.url), status, duration_ms: seconds * 1e3 }, 'request'),
    );
    done();
  });
}
