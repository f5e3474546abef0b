import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CommonEnv } from '../config/common-env';
import { APP_ENV, LOGGER } from '../platform.tokens';
import { ReadinessRegistry } from './health';

/** A part of the app that needs a step of its own when the app shuts down. */
export interface DrainStep {
  name: string;
  run(): Promise<void>;
}

/**
 * The graceful drain every app goes through on SIGTERM (enableShutdownHooks) or app.close(),
 * which take the same path (docs/deploy.md, "Graceful drain"):
 *
 * 1. readiness answers 503 (liveness stays 200), so no new traffic is routed here;
 * 2. drain steps run (the gateway closes its sockets with 1001 and waits for them to go);
 * 3. Nest closes the HTTP server: no new connections, in-flight requests complete, each answered
 *    with `connection: close` so keep-alive connections end with them instead of idling;
 * 4. stop steps run (projectors finish their batch and release their leases), then the database
 *    pool closes.
 *
 * Steps 2 and 3 share one deadline, SHUTDOWN_DRAIN_MS: what is still open then is cut.
 * The order is Nest's (beforeApplicationShutdown, dispose, onApplicationShutdown); projectors stop
 * after HTTP because an in-flight read-your-writes request waits for them.
 */
@Injectable()
export class ShutdownDrain implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly drainSteps: DrainStep[] = [];
  private readonly stopSteps: DrainStep[] = [];
  private readonly inFlight = new Set<ServerResponse>();
  private drainingSince?: number;
  private stopping?: Promise<void>;
  private cutTimer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_ENV) private readonly env: CommonEnv,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly adapterHost: HttpAdapterHost,
    readiness: ReadinessRegistry,
  ) {
    readiness.register({
      name: 'shutdown',
      check: async () => (this.draining ? { up: false, details: { draining: true } } : { up: true }),
    });
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Runs before the HTTP server closes, while requests are still served (within the deadline). */
  onDrain(step: DrainStep): void {
    this.drainSteps.push(step);
  }

  /** Runs once HTTP has closed, before the database pool closes. */
  onStop(step: DrainStep): void {
    this.stopSteps.push(step);
  }

  onApplicationBootstrap(): void {
    // Responses in flight when the drain starts are the ones to mark `connection: close`.
    this.server()?.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
      if (this.draining) return closeAfter(response);
      this.inFlight.add(response);
      response.once('close', () => this.inFlight.delete(response));
    });
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (this.draining) return;
    this.drainingSince = Date.now();
    const deadlineMs = this.env.SHUTDOWN_DRAIN_MS;
    this.logger.info({ signal, drain_ms: deadlineMs }, 'draining: readiness is now 503');
    for (const response of this.inFlight) closeAfter(response);
    const server = this.server();
    // Bounds Nest's HTTP close, which otherwise waits for every connection however long it takes.
    this.cutTimer = setTimeout(() => {
      this.logger.warn({ drain_ms: deadlineMs }, 'drain deadline passed: closing the connections still open');
      server?.closeAllConnections();
    }, deadlineMs);
    this.cutTimer.unref();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
      timer.unref();
    });
    await Promise.race([Promise.all(this.drainSteps.map((step) => this.run(step))), deadline]);
    clearTimeout(timer);
  }

  /** Idempotent: the database lifecycle awaits it before closing the pool. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.cutTimer);
      await Promise.all(this.stopSteps.map((step) => this.run(step)));
      if (this.drainingSince !== undefined) this.logger.info({ drain_total_ms: Date.now() - this.drainingSince }, 'drained');
    })();
    return this.stopping;
  }

  private async run(step: DrainStep): Promise<void> {
    try {
      await step.run();
    } catch (error) {
      this.logger.error({ err: error, step: step.name }, 'shutdown step failed');
    }
  }

  private server(): Server | undefined {
    const adapter = this.adapterHost?.httpAdapter;
    return adapter?.getHttpServer() as Server | undefined;
  }
}

/** The response ends its keep-alive connection, so the closing server need not wait for it to idle out. */
function closeAfter(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('connection', 'close');
}
