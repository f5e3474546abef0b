import { Controller, DynamicModule, Get, INestApplication, Module } from '@nestjs/common';
import { connect } from 'node:net';
import { request } from 'node:http';
import { CommonEnv, createHttpApp, listenOn, loadEnv, PlatformModule, ShutdownDrain } from '@khala/platform';
import { eventually } from '../gateway/support/conditions';
import { testDatabaseUrl } from '../support/test-database';

/** A route that answers when the test says so: the in-flight request of a drain. */
class Gate {
  static waiting = 0;
  private static releases: (() => void)[] = [];
  static async pass(): Promise<void> {
    Gate.waiting += 1;
    await new Promise<void>((resolve) => Gate.releases.push(resolve));
    Gate.waiting -= 1;
  }
  static releaseAll(): void {
    for (const release of Gate.releases.splice(0)) release();
  }
}

@Controller('slow')
class SlowController {
  @Get()
  async slow() {
    await Gate.pass();
    return { done: true };
  }
}

@Module({})
class DrainTestModule {
  static forEnv(env: CommonEnv): DynamicModule {
    return { module: DrainTestModule, imports: [PlatformModule.forApp({ app: 'runtime', env })], controllers: [SlowController] };
  }
}

/** An app built like every app (createHttpApp: the same adapter, hooks and probes), with a slow route. */
async function startApp(drainMs: number): Promise<{ app: INestApplication; port: number }> {
  const env = loadEnv(CommonEnv, { ...process.env, DATABASE_URL: testDatabaseUrl(), SHUTDOWN_DRAIN_MS: String(drainMs), LOG_LEVEL: 'silent' });
  const app = await createHttpApp(DrainTestModule.forEnv(env), { title: 'drain test' });
  const url = await listenOn(app, 0, '127.0.0.1');
  return { app, port: Number(new URL(url).port) };
}

/** One GET on a connection of its own: status, the connection header, the body (or the error). */
function get(port: number, path: string): Promise<{ status: number; connection?: string; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'keep-alive' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    req.on('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end();
  });
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/**
 * The HTTP side of the graceful drain (issue 15, item 3; docs/deploy.md "Graceful drain"), through
 * app.close(), which is what Nest's SIGTERM hook runs.
 */
describe('HTTP drain on shutdown', () => {
  afterEach(() => Gate.releaseAll());

  it('readiness turns 503 first while liveness stays 200; then no new connections, and the request in flight completes', async () => {
    const { app, port } = await startApp(30_000);
    const drain = app.get(ShutdownDrain);
    // Holds the drain at its first step, so the test can look at the probes meanwhile.
    let releaseStep!: () => void;
    drain.onDrain({ name: 'held by the test', run: () => new Promise<void>((resolve) => (releaseStep = resolve)) });
    expect(await get(port, '/health/ready')).toMatchObject({ status: 200 });

    const inFlight = get(port, '/slow');
    await eventually(() => Gate.waiting === 1, 'the slow request to be in flight');
    const closed = app.close();
    await eventually(() => drain.draining, 'the drain to start');

    const ready = await get(port, '/health/ready');
    expect(ready).toMatchObject({ status: 503 });
    expect(JSON.parse((ready as { body: string }).body)).toMatchObject({ code: 'not_ready' });
    expect((ready as { body: string }).body).toContain('"shutdown"');
    expect(await get(port, '/health/live')).toMatchObject({ status: 200, body: '{"status":"ok"}' });

    releaseStep();
    let refused = false;
    for (let i = 0; i < 500 && !refused; i++) {
      refused = await refusesConnections(port);
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(refused).toBe(true);

    Gate.releaseAll();
    // Answered in full, and told to close its keep-alive connection (the server is not kept waiting for it to idle out).
    expect(await inFlight).toEqual({ status: 200, connection: 'close', body: '{"done":true}' });
    await closed;
  });

  it('a request still in flight at SHUTDOWN_DRAIN_MS is cut, so shutdown ends', async () => {
    const { app, port } = await startApp(300);
    const inFlight = get(port, '/slow');
    await eventually(() => Gate.waiting === 1, 'the slow request to be in flight');
    await app.close();
    expect(await inFlight).toMatchObject({ error: expect.any(String) });
  });
});
