import type { IncomingMessage } from 'node:http';
import { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { AuthError, bearerToken, SyncPrincipal, TokenService } from '@khala/auth';
import { OriginPolicy } from '@khala/platform';

const PRINCIPAL = Symbol('sync principal');

export function principalOf(request: IncomingMessage): SyncPrincipal | undefined {
  return (request as IncomingMessage & { [PRINCIPAL]?: SyncPrincipal })[PRINCIPAL];
}

type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/**
 * Verifies the sync token during the HTTP upgrade, so a bad token gets a 401 with a JSON body and
 * never becomes a socket (tokens are never logged). Messages are not routed through Nest: the
 * gateway has no @SubscribeMessage handlers, so binding none saves an rxjs pipeline per message.
 */
export class SyncWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly tokens: TokenService,
    /** The HTTP API's CORS policy (CORS_ORIGINS): no Origin or same origin or listed, else 403. */
    private readonly origins: OriginPolicy = new OriginPolicy([]),
  ) {
    super(app, { messageParser: () => undefined });
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    return super.create(port, { ...options, verifyClient: this.verifyClient });
  }

  override bindMessageHandlers(): void {
    // SyncConnections reads the socket's messages itself.
  }

  private readonly verifyClient = (info: { req: IncomingMessage; origin?: string }, callback: VerifyCallback): void => {
    const json = { 'Content-Type': 'application/json' };
    if (!this.origins.allows(info.req.headers)) {
      callback(false, 403, JSON.stringify({ code: 'origin_not_allowed', message: 'this Origin may not open sync sockets' }), json);
      return;
    }
    const url = new URL(info.req.url ?? '/', 'http://gateway');
    const token = url.searchParams.get('token') ?? bearerToken(info.req.headers.authorization);
    this.tokens.verifySyncToken(token ?? undefined).then(
      (principal) => {
        (info.req as IncomingMessage & { [PRINCIPAL]?: SyncPrincipal })[PRINCIPAL] = principal;
        callback(true);
      },
      (error: unknown) => {
        const code = error instanceof AuthError ? error.code : 'invalid_token';
        const message = error instanceof AuthError ? error.message : 'token is invalid';
        callback(false, 401, JSON.stringify({ code, message }), json);
      },
    );
  };
}
