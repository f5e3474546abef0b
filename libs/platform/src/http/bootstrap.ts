import { HttpException, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { correlationIdFrom, runWithCorrelationId } from '../logging/correlation';
import { PinoNestLogger } from '../logging/logger';
import { METRICS_REGISTRY } from '../metrics/metrics';
import type { CommonEnv } from '../config/common-env';
import { APP_ENV, LOGGER } from '../platform.tokens';
import { acceptJsonBodiesOnly, refuseNulInUrl, requestErrorFromFramework } from './body-parsing';
import { answerClientError } from './client-errors';
import { HttpExceptionFilter } from './http-exception.filter';
import { OriginPolicy } from './origin-policy';
import { correlationIdOf, observeRequests } from './request-observation';
import { corsHook } from './security-headers';
import { createValidationPipe } from './validation';

export interface HttpAppOptions {
  title: string;
  description?: string;
  /** Largest accepted JSON body. */
  bodyLimitBytes?: number;
}

/** Longest URL (request line and headers) Node's parser takes; no route parameter can be longer. */
const MAX_URL_BYTES = 16 * 1024;

/**
 * Creates a Nest HTTP app with the conventions every app shares (api.md "Errors everywhere"), on
 * Fastify: the command path spends half its CPU in the HTTP stack, and Fastify's is half of
 * express's (bench/README.md, "The command path").
 */
export async function createHttpApp(rootModule: Type<unknown> | object, options: HttpAppOptions): Promise<INestApplication> {
  const bodyLimitBytes = options.bodyLimitBytes ?? 1024 * 1024;
  const adapter = new EdgeErrorsFirstAdapter({
    bodyLimit: bodyLimitBytes,
    // Routing as the API has always been served: case-insensitive, a trailing slash optional, and
    // a path parameter of any length reaches validation (find-my-way's default of 100 would 404).
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: MAX_URL_BYTES },
    clientErrorHandler: answerClientError,
    // Node's own timeouts (Fastify would keep idle sockets 72 s and never time a request out).
    keepAliveTimeout: 5_000,
    requestTimeout: 300_000,
    // During the drain, requests on connections already open are served, not refused with
    // Fastify's 503: ShutdownDrain ends those connections with their responses.
    return503OnClosing: false,
    // No Nest middleware is used; without middie no hook runs for it on every request.
    skipMiddie: true,
    // A path that is not valid percent-encoding is refused before routing, so before any hook.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => answerRefusal(error, request, reply),
  });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule as Type<unknown>, adapter, { bodyParser: false, bufferLogs: true });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new PinoNestLogger(logger));
  app.enableShutdownHooks();

  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const errors = new HttpExceptionFilter(logger, app.getHttpAdapter());
  const answerRefusal = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const coded = requestErrorFromFramework(error, bodyLimitBytes) ?? asHttpException(error);
    const correlationId = request.correlationId || correlationIdFrom(request.headers['x-correlation-id']);
    runWithCorrelationId(correlationId, () => errors.answer(coded, reply.header('x-correlation-id', correlationId)));
  };
  observeRequests(fastify, logger, app.get<Registry>(METRICS_REGISTRY));
  fastify.addHook('onRequest', corsHook(originPolicyOf(app), correlationIdOf));
  fastify.addHook('onRequest', refuseNulInUrl);
  acceptJsonBodiesOnly(fastify, bodyLimitBytes);
  // What Fastify refuses before a route runs (the body parser, a hook) is answered in the same shape.
  fastify.setErrorHandler(answerRefusal);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(errors);

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

/**
 * Nest installs an error handler of its own at init, replacing the one above: it would turn
 * Fastify's refusals into HttpExceptions that keep the status but lose which refusal it was
 * (415 and 413 each have a documented code). Errors from routes never reach either handler:
 * Nest's exception filters answer those.
 */
class EdgeErrorsFirstAdapter extends FastifyAdapter {
  override setErrorHandler(): ReturnType<FastifyAdapter['setErrorHandler']> {
    return this.getInstance();
  }
}

/** A Fastify refusal we have no code of our own for keeps its 4xx status (not a 500). */
function asHttpException(error: FastifyError): unknown {
  const status = error.statusCode;
  return status !== undefined && status >= 400 && status < 500 ? new HttpException(error.message, status) : error;
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
