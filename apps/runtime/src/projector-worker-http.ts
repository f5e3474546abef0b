import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** What the worker's readiness depends on: answered per check, like the apps' /health/ready. */
export type WorkerReadiness = () => Promise<{ up: boolean; details: Record<string, unknown> }>;

export interface WorkerHttp {
  url: string;
  close(): Promise<void>;
}

/**
 * The projector worker has no Nest app and no API; this is the little HTTP it needs to be operated
 * like the others: GET /metrics (its registry, app="projector-worker"), GET /health/live and
 * GET /health/ready (the paths the apps' HealthController serves, so probes read the same). Anything
 * else is 404. Not authenticated: expose it to the scraper and the kubelet only.
 */
export async function serveWorkerHttp(registry: Registry, readiness: WorkerReadiness, port: number, host: string): Promise<WorkerHttp> {
  const server = createServer((request, response) => void answer(request, response, registry, readiness));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as { port: number };
  return { url: `http://${host}:${address.port}`, close: () => closeServer(server) };
}

async function answer(request: IncomingMessage, response: ServerResponse, registry: Registry, readiness: WorkerReadiness): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { code: 'method_not_allowed', message: 'only GET' });
    if (path === '/metrics') {
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      return void response.end(await registry.metrics());
    }
    if (path === '/health/live') return send(response, 200, { status: 'ok' });
    if (path === '/health/ready') {
      const { up, details } = await readiness();
      return send(response, up ? 200 : 503, up ? { status: 'ok', info: details } : { code: 'not_ready', message: 'not ready', details });
    }
    send(response, 404, { code: 'not_found', message: `no route ${path}` });
  } catch (error) {
    send(response, 500, { code: 'internal', message: (error as Error).message });
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
