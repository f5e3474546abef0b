import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RequestError } from '../errors/domain-error';

/** Deepest accepted nesting of a JSON body (see inspectJson). */
export const MAX_JSON_DEPTH = 64;

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * JSON bodies only (api.md): the one content-type parser of the app. A body of any other type is
 * refused by Fastify before it is read (415), one over `limitBytes` as soon as its length is known
 * (413). A body that parses but could never be valid is refused here, before validation:
 * see notAnObject and inspectJson.
 */
export function acceptJsonBodiesOnly(app: FastifyInstance, limitBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: limitBytes }, (request, text, done) => {
    const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return done(new RequestError('unsupported_media_type', 'unsupported body encoding'), undefined);
    }
    if (text === '') return done(null, undefined); // no body at all: the route's validation decides
    let body: unknown;
    try {
      body = JSON.parse(text as string);
    } catch {
      return done(new RequestError('malformed_json', 'request body is not valid JSON'), undefined);
    }
    const problem = notAnObject(body) ?? inspectJson(body, MAX_JSON_DEPTH);
    if (problem) return done(new RequestError('validation_failed', problem, [{ field: '', errors: [problem] }]), undefined);
    done(null, body);
  });
}

/**
 * Postgres text and jsonb cannot hold U+0000, so a NUL in a path or query would reach the
 * database only to fail there (a 500); refuse it at the edge like any other invalid input.
 */
export function refuseNulInUrl(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  if (/%00/i.test(request.url) || request.url.includes('\u0000')) {
    return done(new RequestError('validation_failed', 'the URL contains a NUL character', [{ field: 'url', errors: ['NUL characters are not accepted'] }]));
  }
  done();
}

/** Fastify's own refusals of a request (body size and type, URL) as our coded errors. */
export function requestErrorFromFramework(error: FastifyError, limitBytes: number): RequestError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RequestError('payload_too_large', `request body exceeds ${limitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RequestError('unsupported_media_type', 'request bodies must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new RequestError('malformed_json', 'the request body does not match its content-length');
    case 'FST_ERR_BAD_URL':
      return new RequestError('validation_failed', 'the URL is not correctly encoded', [{ field: 'url', errors: ['malformed percent-encoding'] }]);
    default:
      return undefined;
  }
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
 *    cannot store them, so they would fail in the database after validation passed;
 *  - a `__proto__` key (see below).
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
        // JSON.parse keeps it as an own key, but validation never sees it: copied onto the DTO it
        // becomes that object's prototype instead of a field, so it is refused here.
        if (key === '__proto__') return 'the key __proto__ is not accepted';
        stack.push([child, depth + 1]);
      }
    }
  }
  return undefined;
}
