import { createServer, IncomingMessage, Server, STATUS_CODES } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { AuthError, bearerToken, SyncPrincipal, TokenService } from '@khala/auth';
import { OriginPolicy, ShutdownDrain } from '@khala/platform';
import { CLOSE, GOING_AWAY_REASON } from './session/session-ports';
import { SyncConnections } from './sync-connections';

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
  /** Counts refused upgrades (khala_gateway_auth_failures_total). */
  private readonly refusals: SyncConnections;
  private readonly drain: ShutdownDrain;

  constructor(
    app: INestApplicationContext,
    private readonly tokens: TokenService,
    /** The HTTP API's CORS policy (CORS_ORIGINS): no Origin or same origin or listed, else 403. */
    private readonly origins: OriginPolicy = new OriginPolicy([]),
  ) {
    super(app, { messageParser: () => undefined });
    this.refusals = app.get(SyncConnections);
    this.drain = app.get(ShutdownDrain);
  }

  /**
   * Nest's close() terminates every socket (1006: clients see a network failure and back off). The
   * shutdown drain has closed the sessions' sockets with 1001 already; any socket left (one that
   * never became a session) gets the same close, and is terminated if it does not finish in time.
   */
  override async close(server: WsServerLike): Promise<void> {
    const stopped = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    await Promise.all([...server.clients].map((socket) => closeGoingAway(socket)));
    await stopped;
  }

  override create(port: number, options: Record<string, unknown> = {}) {
    return super.create(port, { ...options, verifyClient: this.verifyClient });
  }

  /**
   * Routes upgrades like Nest's WsAdapter, except that a refusal is an HTTP response with the
   * coded error body: Nest destroys the socket of an upgrade to an unknown path without a word and
   * answers an unparseable URL with a malformed status line. The base URL is fixed, not taken from
   * the (client-controlled) Host header.
   */
  protected override ensureHttpServerExists(port: number, httpServer: Server = createServer()): Server | undefined {
    if (this.httpServersRegistry.has(port)) return undefined;
    this.httpServersRegistry.set(port, httpServer);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      let pathname: string;
      try {
        pathname = new URL(request.url ?? '/', 'ws://gateway/').pathname;
      } catch {
        return refuseUpgrade(socket, 400, 'bad_request', 'malformed request URL');
      }
      const servers = (this.wsServersRegistry.get(port) ?? []) as { path: string; handleUpgrade: WsServerUpgrade; emit(event: string, ...args: unknown[]): boolean }[];
      const server = servers.find((candidate) => candidate.path === pathname);
      if (!server) return refuseUpgrade(socket, 404, 'not_found', 'no WebSocket endpoint at this path');
      // A client that reaches this instance while it drains goes to another one (its retry, or the proxy's next pick).
      if (this.drain.draining) return refuseUpgrade(socket, 503, 'draining', 'this gateway is shutting down; connect to another instance');
      server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws, request));
    });
    return httpServer;
  }

  /** ws answers a malformed handshake (bad key, version, Upgrade header, method) in text/html unless told otherwise. */
  protected override addWsServerToRegistry<T extends Record<'path', string>>(wsServer: T, port: number, path: string): void {
    (wsServer as unknown as { on(event: 'wsClientError', listener: (error: Error, socket: Duplex) => void): void }).on('wsClientError', (error, socket) =>
      refuseUpgrade(socket, error.message.startsWith('Invalid HTTP method') ? 405 : 400, 'bad_handshake', error.message),
    );
    super.addWsServerToRegistry(wsServer, port, path);
  }

  override bindMessageHandlers(): void {
    // SyncConnections reads the socket's messages itself.
  }

  private readonly verifyClient = (info: { req: IncomingMessage; origin?: string }, callback: VerifyCallback): void => {
    const json = { 'Content-Type': 'application/json' };
    if (!this.origins.allows(info.req.headers)) {
      this.refusals.countRefusedUpgrade('origin_not_allowed');
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
        this.refusals.countRefusedUpgrade(code);
        const message = error instanceof AuthError ? error.message : 'token is invalid';
        callback(false, 401, JSON.stringify({ code, message }), json);
      },
    );
  };
}

/** How long close() waits for a peer to answer the close before terminating the socket. */
const CLOSE_WAIT_MS = 1000;

interface WsSocketLike {
  readonly readyState: number;
  close(code: number, reason: string): void;
  terminate(): void;
  once(event: 'close', listener: () => void): void;
}
interface WsServerLike {
  clients: Set<WsSocketLike>;
  close(callback: (error?: Error) => void): void;
}

function closeGoingAway(socket: WsSocketLike): Promise<void> {
  const CLOSED = 3;
  if (socket.readyState === CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.terminate(), CLOSE_WAIT_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(CLOSE.goingAway, GOING_AWAY_REASON);
  });
}

type WsServerUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer, done: (ws: unknown) => void) => void;

function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ code, message, correlation_id: randomUUID() });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
