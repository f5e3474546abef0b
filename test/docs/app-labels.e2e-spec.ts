import { LoggedSystem, startLoggedSystem } from '../support/processes/logged-system';

/**
 * docs/operations.md §3: one `app` name per app, in logs as in metrics, also when `npm start` runs
 * the three apps in one process (Nest's logger is one per process, so this can regress silently).
 */
describe('the app field of log lines in the all-in-one process', () => {
  let system: LoggedSystem;
  beforeAll(async () => {
    // The route lines come through the logger's buffer after the banner: wait for the last app's.
    system = await startLoggedSystem({ RUNTIME_PROJECTORS: 'off', LOG_LEVEL: 'info' }, (output) =>
      output.includes('"Mapped {/api/sync/snapshot, GET} route"'),
    );
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
  });

  const lines = () =>
    system
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { app?: string; msg?: string; context?: string });

  it.each([
    ['control', '/api/auth/signup'],
    ['runtime', '/api/runtime/runs'],
    ['gateway', '/api/sync/snapshot'],
  ])("%s's startup lines (its routes mapped) carry its own app name", (app, route) => {
    const mapped = lines().filter((line) => line.msg?.startsWith(`Mapped {${route},`));
    expect(mapped.length).toBeGreaterThan(0);
    expect(new Set(mapped.map((line) => line.app))).toEqual(new Set([app]));
  });

  it('every JSON log line names one of the three apps', () => {
    const names = new Set(lines().map((line) => line.app));
    expect([...names].filter((name) => !['control', 'runtime', 'gateway'].includes(name ?? ''))).toEqual([]);
  });
});
