import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { OriginPolicy } from './origin-policy';

/** Where SwaggerModule serves its UI; the only HTML the apps serve. */
const DOCS_PREFIX = '/docs';

const common = {
  // JSON API: nothing may frame it, no referrer leaks, HSTS only matters behind TLS but is harmless.
  frameguard: { action: 'deny' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
};

/**
 * The headers a helmet configuration sets. They do not depend on the request (no CSP nonces), so
 * they are worked out once at start-up and each response gets the same object.
 */
function headersOf(middleware: ReturnType<typeof helmet>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return Object.freeze(headers);
}

/** Every JSON route: nothing may load from a response of ours, ever. */
const API_HEADERS = headersOf(
  helmet({
    ...common,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  }),
);

/** Swagger UI: its own scripts/styles (inline <style> blocks, data: images) from this origin only. */
const DOCS_HEADERS = headersOf(
  helmet({
    ...common,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  }),
);

/** The security headers of a response to `url` (path and query, as the request line has it). */
export function securityHeadersFor(url: string): Readonly<Record<string, string>> {
  if (!url.startsWith(DOCS_PREFIX)) return API_HEADERS;
  const path = url.split('?', 1)[0];
  const docs = path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`) || path.startsWith(`${DOCS_PREFIX}-json`);
  return docs ? DOCS_HEADERS : API_HEADERS;
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type, idempotency-key, x-correlation-id';
const EXPOSED_HEADERS = 'x-correlation-id, retry-after';

/**
 * CORS without credentials (tokens travel in Authorization, never cookies). A request from an
 * origin the policy refuses is answered 403 before any route runs, preflight or not: a browser
 * would hide the response anyway, and refusing means a cross-site "simple" request has no effect.
 */
export function corsHook(policy: OriginPolicy, correlationIdOf: (request: FastifyRequest) => string): onRequestHookHandler {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const origin = request.headers.origin;
    if (origin === undefined) return done();
    reply.header('vary', 'Origin');
    if (!policy.allows(request.headers)) {
      void reply.code(403).send({
        code: 'origin_not_allowed',
        message: 'this Origin may not call this API (see CORS_ORIGINS)',
        correlation_id: correlationIdOf(request),
      });
      return;
    }
    reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED_HEADERS);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      void reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .code(204)
        .send();
      return;
    }
    done();
  };
}
