import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json } from 'express';
import { RequestError } from '../errors/domain-error';
import { currentCorrelationId } from '../logging/correlation';
import { STATUS_BY_KIND } from './error-response';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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
  const parse = json({ limit: limitBytes, strict: true, type: 'application/json' });
  const answerParseErrors = (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const error = toRequestError(err, limitBytes);
    if (!error) return next(err);
    res.status(STATUS_BY_KIND[error.kind]).json({
      code: error.code,
      message: error.message,
      correlation_id: currentCorrelationId() ?? 'none',
    });
  };
  return [requireJson, parse, answerParseErrors];
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
