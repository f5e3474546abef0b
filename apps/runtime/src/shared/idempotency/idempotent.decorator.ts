import { createParamDecorator, ExecutionContext, HttpCode } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '@khala/auth';
import { IdempotencyService } from './idempotency.service';

/** What of the request, besides the org and the validated body, an Idempotency-Key record is checked against. */
export interface KeyedRequest {
  /** The Idempotency-Key header, if any. */
  idempotencyKey: string | undefined;
  method: string;
  path: string;
}

/** Route parameter: the request's Idempotency-Key header, method and path. */
export const Keyed = createParamDecorator(
  (_data: unknown, context: ExecutionContext): KeyedRequest => {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return {
      idempotencyKey: request.headers['idempotency-key'] as string | undefined,
      method: request.method,
      path: request.url.split('?', 1)[0],
    };
  },
);

/** A controller whose routes run under Idempotency-Key. */
export interface IdempotentController {
  readonly idempotency: IdempotencyService;
}

/** An idempotent route takes the caller, the validated body and the keyed request first (in that order). */
type IdempotentRoute = (principal: Principal, body: never, request: KeyedRequest, ...rest: never[]) => Promise<unknown>;

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'same key + same body → the first response, no second effect; same key + different body → 409 idempotency_mismatch',
};

/**
 * Runs a command route under the Idempotency-Key contract (IdempotencyService): same key + same
 * request → the first response, no second effect. A method decorator rather than an interceptor:
 * it wraps the route after Nest's pipes, so the body it hashes is the validated one and a request
 * refused by validation never claims its key. Also sets the route's success status, which
 * replays answer with, and documents the header.
 */
export function Idempotent(status: number) {
  return <Route extends IdempotentRoute>(
    target: IdempotentController,
    name: string | symbol,
    descriptor: TypedPropertyDescriptor<Route>,
  ): TypedPropertyDescriptor<Route> => {
    const route = descriptor.value as unknown as (...args: unknown[]) => Promise<unknown>;
    const idempotent = function (
      this: IdempotentController,
      principal: Principal,
      body: unknown,
      request: KeyedRequest,
      ...rest: unknown[]
    ) {
      return this.idempotency.execute(
        { orgId: principal.orgId, key: request.idempotencyKey, method: request.method, path: request.path, body, status },
        () => route.call(this, principal, body, request, ...rest),
      );
    };
    // The OpenAPI explorer finds a route's parameters (its body schema) by the function's name.
    Object.defineProperty(idempotent, 'name', { value: route.name });
    // Decorators applied before this one (below it) left their metadata on the route itself.
    for (const key of Reflect.getMetadataKeys(route)) Reflect.defineMetadata(key, Reflect.getMetadata(key, route), idempotent);
    descriptor.value = idempotent as unknown as Route;
    HttpCode(status)(target, name, descriptor);
    ApiHeader(IDEMPOTENCY_HEADER)(target, name, descriptor);
    return descriptor;
  };
}
