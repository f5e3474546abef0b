import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable, tap } from 'rxjs';
import { loggablePath } from '../logging/logger';
import { contextFromHeaders, recordFailure, startSpan, tracingEnabled } from './tracing';

interface HttpRequestLike {
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
}

/** What both adapters' responses expose: express's is the node response, fastify's reply holds it as `raw`. */
interface HttpResponseLike {
  raw?: NodeResponseLike;
  statusCode?: number;
  once?(event: 'close', listener: () => void): unknown;
}
interface NodeResponseLike {
  statusCode: number;
  once(event: 'close', listener: () => void): unknown;
}

// Semantic-convention attribute names (stable HTTP conventions), written out: the conventions
// package is not loaded for four strings.
const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
const ATTR_HTTP_ROUTE = 'http.route';
const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
const ATTR_URL_PATH = 'url.path';

const routes = new WeakMap<object, string>();

/** `/api/runtime/runs/:run_id/frames`: the controller's path and the handler's, as declared. */
function routeOf(execution: ExecutionContext): string {
  const handler = execution.getHandler();
  let route = routes.get(handler);
  if (route === undefined) {
    const parts = [Reflect.getMetadata(PATH_METADATA, execution.getClass()), Reflect.getMetadata(PATH_METADATA, handler)]
      .flatMap((path: unknown) => (typeof path === 'string' ? path.split('/') : []))
      .filter((part) => part.length > 0);
    route = `/${parts.join('/')}`;
    routes.set(handler, route);
  }
  return route;
}

/**
 * The HTTP server span of a request: it continues the caller's W3C `traceparent`, is active while
 * the handler runs (so the command handler's and the append's spans are its children) and ends
 * when the response is finished, with its status. An interceptor, so it is the same under either
 * HTTP adapter; it starts after the guards (authentication is not inside it). Registered only
 * while tracing is on (PlatformModule), so it costs nothing otherwise.
 */
@Injectable()
export class HttpServerSpanInterceptor implements NestInterceptor {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!tracingEnabled() || execution.getType() !== 'http') return next.handle();
    const http = execution.switchToHttp();
    const request = http.getRequest<HttpRequestLike>();
    const response = http.getResponse<HttpResponseLike>();
    const method = request.method ?? 'GET';
    const route = routeOf(execution);
    const parent = contextFromHeaders(request.headers);
    const span = startSpan(`${method} ${route}`, {
      kind: SpanKind.SERVER,
      parent,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_HTTP_ROUTE]: route,
        ...(request.url ? { [ATTR_URL_PATH]: loggablePath(request.url) } : {}),
      },
    });
    const node: NodeResponseLike | undefined = response.raw ?? (response.once ? (response as NodeResponseLike) : undefined);
    const end = () => {
      const status = node?.statusCode;
      if (status !== undefined) {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
    if (node) node.once('close', end);
    const active = trace.setSpan(parent, span);
    // handle() binds the handler to the async context it is called in: called inside the span's.
    return new Observable((subscriber) =>
      context.with(active, () =>
        next
          .handle()
          .pipe(
            tap({
              error: (error: unknown) => recordFailure(span, error),
              finalize: () => {
                if (!node) end();
              },
            }),
          )
          .subscribe(subscriber),
      ),
    );
  }
}
