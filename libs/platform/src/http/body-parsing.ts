import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import { RequestError } from '../errors/domain-error';
import { currentCorrelationId } from '../logging/correlation';
import { STATUS_BY_KIND } from './error-response';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Deepest accepted nesting of a JSON body (see inspectJson). */
export const MAX_JSON_DEPTH = 64;

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * JSON bodies only (api.md). Runs before Nest's router, so its failures are answered here in the
 * same error shape the exception filter uses.
 */
export function jsonBodyMiddleware(limitBytes: number): (RequestHandler | ((err: unknown, req: Request, res: Response, next: NextFunction) => void))[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (BODY_METHODS.has(req.method) && hasBody(req) && !req.is('application/json')) {
      next(new RequestError('unsupported_media_type', 'request bodies must be application/json'));
      return;
    }
    next();
  };
  // Not strict: a bare string, number or null is valid JSON, and notAnObject says what is wrong with
  // it (strict parsing would call it "not valid JSON").
  const parse = json({ limit: limitBytes, strict: false, type: 'application/json' });
  const answerParseErrors = (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const error = toRequestError(err, limitBytes);
    if (!error) return next(err);
    res.status(STATUS_BY_KIND[error.kind]).json({
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
      correlation_id: currentCorrelationId() ?? 'none',
    });
  };
  const inspect: RequestHandler = (req, _res, next) => {
    const problem = BODY_METHODS.has(req.method) ? notAnObject(req.body) ?? inspectJson(req.body, MAX_JSON_DEPTH) : undefined;
    if (problem) {
      next(new RequestError('validation_failed', problem, [{ field: '', errors: [problem] }]));
      return;
    }
    next();
  };
  // Postgres text and jsonb cannot hold U+0000, so a NUL in a path or query would reach the
  // database only to fail there (a 500); refuse it at the edge like any other invalid input.
  const refuseNulInUrl: RequestHandler = (req, _res, next) => {
    if (/%00/i.test(req.originalUrl) || req.originalUrl.includes('\u0000')) {
      next(new RequestError('validation_failed', 'the URL contains a NUL character', [{ field: 'url', errors: ['NUL characters are not accepted'] }]));
      return;
    }
    next();
  };
  return [refuseNulInUrl, requireJson, parse, inspect, answerParseErrors];
}

/**
 * Every body of ours is a JSON object; any other JSON value gets one message naming what it is.
 * An array would otherwise reach validation as an object with keys "0", "1", … and be answered
 * with one message per element ("property 0 should not exist") instead of what is wrong.
 */
export function notAnObject(body: unknown): string | undefined {
  if (body === undefined) return undefined; // no body at all: the route's validation decides
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) return undefined;
  const kind = body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`;
  return `the request body must be a JSON object, not ${kind}`;
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function unstorable(text: string): boolean {
  return text.includes('\u0000') || UNPAIRED_SURROGATE.test(text);
}

/**
 * What a parsed body must not contain, checked iteratively (a recursive check would overflow on
 * exactly the bodies it exists to refuse):
 *  - nesting deeper than `maxDepth`: validation and transformation recurse per level, so a small
 *    body nested thousands deep would overflow the stack (a 500) instead of being refused;
 *  - strings or keys with U+0000 or an unpaired surrogate: valid JSON, but Postgres text/jsonb
 *    cannot store them, so they would fail in the database after validation passed.
 */
export function inspectJson(value: unknown, maxDepth: number): string | undefined {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node === 'string') {
      if (unstorable(node)) return 'strings may not contain NUL characters or unpaired UTF-16 surrogates';
      continue;
    }
    if (node === null || typeof node !== 'object') continue;
    if (depth >= maxDepth) return `request body nests deeper than ${maxDepth} levels`;
    if (Array.isArray(node)) {
      for (const child of node) stack.push([child, depth + 1]);
    } else {
      for (const [key, child] of Object.entries(node)) {
        if (unstorable(key)) return 'keys may not contain NUL characters or unpaired UTF-16 surrogates';
        stack.push([child, depth + 1]);
      }
    }
  }
  return undefined;
}



function toRequestError(err: unknown, limitBytes: number): RequestError | undefined {
  if (err instanceof RequestError) return err;
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return new RequestError('payload_too_large', `request body exceeds ${limitBytes} bytes`);
  if (type === 'entity.parse.failed') return new RequestError('malformed_json', 'request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new RequestError('unsupported_media_type', 'unsupported body encoding');
  }
  return undefined;
}
