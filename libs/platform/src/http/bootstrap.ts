import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { correlationIdFrom, runWithCorrelationId } from '../logging/correlation';
import { loggablePath, PinoNestLogger } from '../logging/logger';
import { httpRequestHistogram, METRICS_REGISTRY } from '../metrics/metrics';
import type { CommonEnv } from '../config/common-env';
import { APP_ENV, LOGGER } from '../platform.tokens';
import { jsonBodyMiddleware } from './body-parsing';
import { answerClientErrors } from './client-errors';
import { HttpExceptionFilter } from './http-exception.filter';
import { OriginPolicy } from './origin-policy';
import { corsMiddleware, securityHeadersMiddleware } from './security-headers';
import { createValidationPipe } from './validation';

export interface HttpAppOptions {
  title: string;
  description?: string;
  /** Largest accepted JSON body. */
  bodyLimitBytes?: number;
}

/** Creates a Nest HTTP app with the conventions every app shares (api.md "Errors everywhere"). */
export async function createHttpApp(rootModule: Type<unknown> | object, options: HttpAppOptions): Promise<INestApplication> {
  const app = await NestFactory.create(rootModule as Type<unknown>, { bodyParser: false, bufferLogs: true });
  const logger = app.get<Logger>(LOGGER);
  const registry = app.get<Registry>(METRICS_REGISTRY);
  app.useLogger(new PinoNestLogger(logger));
  app.enableShutdownHooks();
  answerClientErrors(app.getHttpServer());

  const requestDuration = httpRequestHistogram(registry);
  const express = app.getHttpAdapter().getInstance() as { disable(setting: string): void };
  express.disable('x-powered-by');
  // Every response is `cache-control: no-store`, so a weak ETag (a SHA-1 of each body) helps no one.
  express.disable('etag');
  app.use((req: Request, res: Response, next: NextFunction) => {
    const correlationId = correlationIdFrom(req.headers['x-correlation-id']);
    res.setHeader('x-correlation-id', correlationId);
    res.setHeader('cache-control', 'no-store');
    const stopTimer = requestDuration.startTimer();
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      stopTimer({ method: req.method, route, status: String(res.statusCode) });
      runWithCorrelationId(correlationId, () =>
        logger.info(
          {
            method: req.method,
            path: loggablePath(req.originalUrl),
            status: res.statusCode,
            duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
          },
          'request',
        ),
      );
    });
    runWithCorrelationId(correlationId, next);
  });
  app.use(securityHeadersMiddleware());
  app.use(corsMiddleware(originPolicyOf(app)));
  for (const handler of jsonBodyMiddleware(options.bodyLimitBytes ?? 1024 * 1024)) app.use(handler);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter(logger));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(options.title)
      .setDescription(options.description ?? '')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}

/** The app's CORS/Origin policy, from CORS_ORIGINS (the gateway applies it to socket upgrades too). */
export function originPolicyOf(app: INestApplication): OriginPolicy {
  return OriginPolicy.fromList(app.get<CommonEnv>(APP_ENV).CORS_ORIGINS);
}

/** The URL an app listens on, for logs and tests (port 0 resolves to the real port). */
export async function listenOn(app: INestApplication, port: number, host: string): Promise<string> {
  // Nest's logger is one per process: when several apps share it (embedded), the last app created
  // would tag every app's startup lines (routes mapped, started) with its own name. Taking it back
  // here, just before this app initialises, keeps each app's `app` field its own.
  app.useLogger(new PinoNestLogger(app.get<Logger>(LOGGER)));
  await app.listen(port, host);
  const address = app.getHttpServer().address() as { port: number };
  return `http://${host}:${address.port}`;
}
