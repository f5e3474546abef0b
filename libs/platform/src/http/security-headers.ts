import helmet from 'helmet';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { currentCorrelationId } from '../logging/correlation';
import { OriginPolicy } from './origin-policy';

/** Where SwaggerModule serves its UI; the only HTML the apps serve. */
const DOCS_PREFIX = '/docs';

const common = {
  // JSON API: nothing may frame it, no referrer leaks, HSTS only matters behind TLS but is harmless.
  frameguard: { action: 'deny' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
};

/** Every JSON route: nothing may load from a response of ours, ever. */
const apiHeaders = helmet({
  ...common,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
});

/** Swagger UI: its own scripts/styles (inline <style> blocks, data: images) from this origin only. */
const docsHeaders = helmet({
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
});

export function securityHeadersMiddleware(): RequestHandler {
  return (req, res, next) => {
    const path = req.path;
    const docs = path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`) || path.startsWith(`${DOCS_PREFIX}-json`);
    (docs ? docsHeaders : apiHeaders)(req, res, next);
  };
}

const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type, idempotency-key, x-correlation-id';
const EXPOSED_HEADERS = 'x-correlation-id, retry-after';

/**
 * CORS without credentials (tokens travel in Authorization, never cookies). A request from an
 * origin the policy refuses is answered 403 before any route runs, preflight or not: a browser
 * would hide the response anyway, and refusing means a cross-site "simple" request has no effect.
 */
export function corsMiddleware(policy: OriginPolicy): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    res.vary('Origin');
    if (!policy.allows(req.headers)) {
      res.status(403).json({
        code: 'origin_not_allowed',
        message: 'this Origin may not call this API (see CORS_ORIGINS)',
        correlation_id: currentCorrelationId() ?? 'none',
      });
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
