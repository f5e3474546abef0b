import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpServer } from '@nestjs/common';
import type { Logger } from 'pino';
import { DomainError } from '../errors/domain-error';
import { currentCorrelationId } from '../logging/correlation';
import { isConnectionError } from '../database/connection-errors';
import { ErrorBody, STATUS_BY_KIND } from './error-response';

/** Maps every failure to `{code, message, details?, correlation_id}` with the right status. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    /** The app's HTTP adapter, which writes the answer; describe() alone needs none. */
    private readonly http?: HttpServer,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    this.answer(exception, host.switchToHttp().getResponse<unknown>());
  }

  /** Answers `response` (the adapter's reply object) with the error body `exception` maps to. */
  answer(exception: unknown, response: unknown): void {
    if (!this.http) throw new Error('HttpExceptionFilter needs the HTTP adapter to answer');
    const { status, body, retryAfter } = this.describe(exception);
    if (status >= 500) this.logger.error({ err: exception, status }, 'request failed');
    if (retryAfter !== undefined) this.http.setHeader(response, 'Retry-After', String(retryAfter));
    this.http.reply(response, body, status);
  }

  describe(exception: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
    const correlation_id = currentCorrelationId() ?? 'none';
    if (exception instanceof DomainError) {
      const status = STATUS_BY_KIND[exception.kind];
      const retryAfter = exception.retryAfterSeconds ?? (status === 503 ? 1 : undefined);
      return {
        status,
        retryAfter,
        body: { code: exception.code, message: exception.message, details: exception.details, correlation_id },
      };
    }
    if (isConnectionError(exception)) {
      return {
        status: 503,
        retryAfter: 1,
        body: { code: 'storage_unavailable', message: 'storage is unavailable; retry the request', correlation_id },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { status, body: { code: codeForStatus(status), message: exception.message, correlation_id } };
    }
    return { status: 500, body: { code: 'internal', message: 'internal error', correlation_id } };
  }
}

function codeForStatus(status: number): string {
  switch (status) {
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 413:
      return 'payload_too_large';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    default:
      return status >= 500 ? 'internal' : 'bad_request';
  }
}
