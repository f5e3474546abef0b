import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { currentCorrelationId } from './correlation';
import { redactCredentials } from './credentials';
import { activeTraceIds } from '../tracing/tracing';

/**
 * Paths that may carry credentials. Tokens must never reach a log line (docs/protocol/README.md §2), so
 * anything shaped like one is censored before serialisation.
 */
const REDACT_PATHS = [
  'token',
  'access_token',
  'password',
  'authorization',
  '*.token',
  '*.access_token',
  '*.password',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** `destination` defaults to stdout; tests pass a stream to read what would be written. */
export function createLogger(app: string, level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      mixin: () => {
        const correlationId = currentCorrelationId();
        const ids = activeTraceIds();
        if (!ids) return correlationId ? { correlation_id: correlationId } : {};
        return correlationId ? { correlation_id: correlationId, ...ids } : ids;
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The last line of defence: field-name redaction misses a token inside an error message or a
      // value under an unexpected key, so every serialised line is scrubbed of credential shapes.
      hooks: { streamWrite: redactCredentials },
    },
    destination,
  );
}

/** Nest's logger interface over pino, so framework messages are JSON lines too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

/** Strips the query string: sync tokens travel as `?token=` and must not be logged. */
export function loggablePath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
