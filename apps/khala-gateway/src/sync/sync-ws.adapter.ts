import type { IncomingMessage } from 'node:http';
import { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { AuthError, bearerToken, SyncPrincipal, TokenService } from '@khala/auth';

const PRINCIPAL = Symbol('sync principal');

export function principalOf(request: IncomingMessage): SyncPrincipal | undefined {
  return (request as IncomingMessage & { [PRINCIPAL]?: SyncPrincipal })[PRINCIPAL];
}

type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/**
 * Verifies the sync token during the HTTP upgrade, so a bad token gets a 401 with a JSON body and
 * never becomes a socket. Messages are parsed by SyncSession, not by Nest (parser returns null).
 */
export class SyncWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly tokens: TokenService,
  ) {
    super(app, { messageParser: () => undefined });
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    return super.create(port, { ...options, verifyClient: this.verifyClient });
  }

  private readonly verifyClient = (info: { req: IncomingMessage }, callback: VerifyCallback): void => {
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
        callback(false, 401, JSON.stringify({ code, message }), { 'Content-Type': 'application/json' });
      },
    );
  };
}
