import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { KeyRing } from '@khala/auth';
import { createHttpApp, Database, listenOn, loadEnv, METRICS_REGISTRY, migrateUp } from '@khala/platform';
import { CliEnv } from '../../apps/cli/src/cli.env';
import { ControlEnv } from '../../apps/control/src/control.env';
import { ControlModule } from '../../apps/control/src/control.module';
import { createGatewayApp } from '../../apps/khala-gateway/src/gateway.app';
import { GatewayEnv } from '../../apps/khala-gateway/src/gateway.env';
import { ProjectorWorkerEnv } from '../../apps/runtime/src/projector-worker.env';
import { ProjectorWorker, startProjectorWorker } from '../../apps/runtime/src/projector-worker-process';
import { RuntimeEnv } from '../../apps/runtime/src/runtime.env';
import { RuntimeModule } from '../../apps/runtime/src/runtime.module';
import { testDatabaseUrl } from '../support/test-database';
import { declaredNames, exposedSeries, parsePromql, problemsOf, SeriesLabels } from './support/prometheus-text';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** The reference of every key and series; the other docs only mention them. */
const OPERATIONS = 'docs/operations.md';
/** The Grafana dashboard shipped with the deploy artifacts. */
const DASHBOARD = 'deploy/grafana/khala-dashboard.json';
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/**
 * Upper-case names in the docs that are not app settings, each still read where the docs say:
 * test and benchmark knobs, and the compose file's own variables.
 */
const NOT_APP_SETTINGS: Record<string, string> = {
  SOAK_SECONDS: 'test/soak',
  SOAK_RATE: 'test/soak',
  SOAK_HEAP_SNAPSHOTS: 'test/soak',
  FUZZ_RUNS: 'test/hostile',
  FUZZ_SEED: 'test/hostile',
  MODEL_RUNS: 'test',
  MODEL_COMMANDS: 'test',
  MODEL_SEED: 'test',
  MODEL_PATH: 'test',
  MODEL_REPLAY: 'test',
  KHALA_IMAGE: 'deploy',
  KHALA_HTTP_PORT: 'deploy',
  // Not settings at all: error codes and a constant the docs name, found where they are defined.
  APPEND_TOO_LARGE: 'libs/eventstore',
  ACCESS_DENIED: 'libs/eventstore',
  EVENT_CATEGORIES: 'libs/contracts',
};

/** Series the alerts read from other exporters (blackbox prober, node exporter), not from the apps. */
const EXTERNAL_SERIES = /^(probe|node)_/;

function envKeys(): Set<string> {
  const keys = new Set<string>();
  for (const env of [CliEnv, ControlEnv, GatewayEnv, RuntimeEnv, ProjectorWorkerEnv]) {
    for (const rule of getMetadataStorage().getTargetValidationMetadatas(env, '', true, false)) keys.add(rule.propertyName);
    for (const key of Object.keys(new (env as new () => object)())) keys.add(key);
  }
  return keys;
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|ya?ml|sh|env|json)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The PromQL of the docs: code spans with a selector, a range or an aggregation, outside the "gaps" section. */
function promqlSpans(markdown: string): string[] {
  const live = markdown.split(/^## \d+\. Gaps/m)[0];
  return [...live.matchAll(/`([^`\n]+)`/g)]
    .map((match) => match[1])
    .filter((span) => /[a-z_]+\{[a-z_]+(=|!=|=~)"|\b(rate|sum|max|min|avg|increase|topk|deriv|histogram_quantile)\s*(by\s*\([^)]*\)\s*)?\(/.test(span));
}

interface GrafanaPanel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: GrafanaPanel[];
}

/** Every PromQL expression of the Grafana dashboard's panels (rows' nested panels included). */
function dashboardExpressions(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(read(DASHBOARD)) as { panels: GrafanaPanel[] };
  const walk = (panels: GrafanaPanel[]): { panel: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).filter((target) => target.expr).map((target) => ({ panel: panel.title ?? '?', expr: target.expr! })),
      ...walk(panel.panels ?? []),
    ]);
  return walk(dashboard.panels);
}

describe('docs that are true', () => {
  describe('environment keys', () => {
    const keys = envKeys();
    const operations = read(OPERATIONS);

    it('every key of an env class is documented in docs/operations.md', () => {
      expect([...keys].filter((key) => !new RegExp(`\`${key}[\`=/]`).test(operations))).toEqual([]);
    });

    it('every upper-case setting the docs name is a key of an env class (or a named test/deploy knob)', () => {
      const named = new Map<string, string>();
      for (const doc of DOCS) for (const [name] of read(doc).matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)) named.set(name, doc);
      const unknown = [...named].filter(([name]) => !keys.has(name) && !(name in NOT_APP_SETTINGS)).map(([name, doc]) => `${name} (${doc})`);
      expect(unknown).toEqual([]);
    });

    it('the knobs that are not app settings are still read where the docs say', () => {
      const stale = Object.entries(NOT_APP_SETTINGS).filter(([name, dir]) => !filesUnder(dir).some((file) => readFileSync(file, 'utf8').includes(name)));
      expect(stale).toEqual([]);
    });
  });

  describe('metrics in the PromQL (scraped from the running apps)', () => {
    const apps: INestApplication[] = [];
    let worker: ProjectorWorker | undefined;
    /** app label → the series its /metrics exposes → their label names. */
    const series = new Map<string, SeriesLabels>();
    /** Every metric name an app declares (histograms by their own name). */
    const names = new Set<string>();

    async function scrape(url: string, registry: Registry): Promise<void> {
      const text = await (await fetch(`${url}/metrics`)).text();
      const app = /\bapp="([^"]+)"/.exec(text)?.[1];
      if (!app) throw new Error(`${url}/metrics has no app label`);
      const declared = new Map((registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[] }[]).map((metric) => [metric.name, metric.labelNames ?? []]));
      series.set(app, exposedSeries(text, declared));
      for (const name of declaredNames(text)) names.add(name);
    }

    beforeAll(async () => {
      const databaseUrl = testDatabaseUrl();
      const admin = await Database.connect({ url: databaseUrl, max: 1 });
      try {
        await migrateUp(admin);
      } finally {
        await admin.close();
      }
      const env = { DATABASE_URL: databaseUrl, DATA_DIR: 'memory', LOG_LEVEL: 'silent' as const };
      const keys = KeyRing.generate();
      apps.push(
        await createHttpApp(ControlModule.forRoot({ env: loadEnv(ControlEnv, env), keys }), { title: 'control' }),
        await createHttpApp(RuntimeModule.forRoot({ env: loadEnv(RuntimeEnv, env), keys }), { title: 'runtime' }),
        await createGatewayApp(loadEnv(GatewayEnv, env), keys),
      );
      for (const app of apps) await scrape(await listenOn(app, 0, '127.0.0.1'), app.get<Registry>(METRICS_REGISTRY));
      worker = await startProjectorWorker(loadEnv(ProjectorWorkerEnv, env), { httpPort: 0, host: '127.0.0.1' });
      await scrape(worker.http.url, worker.metrics);
    }, 60_000);
    afterAll(async () => {
      await worker?.stop();
      for (const app of apps.reverse()) await app.close();
    });

    it('each app labels its series with its own name, the one the docs use', () => {
      expect([...series.keys()].sort()).toEqual(['control', 'gateway', 'projector-worker', 'runtime']);
      expect(read(OPERATIONS)).toContain('`app` label (`control`, `runtime`, `gateway`, `projector-worker`)');
    });

    it('every series starts with khala_', () => {
      expect(names.size).toBeGreaterThan(40);
      expect([...names].filter((name) => !name.startsWith('khala_'))).toEqual([]);
    });

    it('exposes what operators alert on: pools, projection stall and tenant lag, gateway resyncs, subscriptions, auth failures, event-loop delay', () => {
      const expected: [app: string, metric: string, labels: string[]][] = [
        ...['control', 'runtime', 'gateway', 'projector-worker'].flatMap((app): [string, string, string[]][] => [
          [app, 'khala_db_pool_clients', ['app', 'pool']],
          [app, 'khala_db_pool_idle_clients', ['app', 'pool']],
          [app, 'khala_db_pool_waiting_requests', ['app', 'pool']],
          [app, 'khala_event_loop_delay_seconds', ['app', 'quantile']],
        ]),
        ...['control', 'runtime', 'projector-worker'].flatMap((app): [string, string, string[]][] => [
          [app, 'khala_projection_stalled', ['app', 'projection']],
          [app, 'khala_projection_tenant_lag_events', ['app', 'projection', 'tenant']],
          [app, 'khala_projection_tenant_lag_seconds', ['app', 'projection', 'tenant']],
        ]),
        ['gateway', 'khala_gateway_stale_cursors_total', ['app', 'reason']],
        ['gateway', 'khala_gateway_subscriptions', ['app']],
        ['gateway', 'khala_gateway_auth_failures_total', ['app', 'reason']],
      ];
      const exposed = expected.map(([app, metric]) => [app, metric, [...(series.get(app)?.get(metric) ?? [])].sort()]);
      expect(exposed).toEqual(expected.map(([app, metric, labels]) => [app, metric, labels.sort()]));
    });

    it("every metric and label of the docs' PromQL is one the app it names emits", () => {
      const spans = promqlSpans(read(OPERATIONS));
      expect(spans.length).toBeGreaterThan(10);
      expect(spans.flatMap((span) => problemsOf(span, series, (metric) => EXTERNAL_SERIES.test(metric)))).toEqual([]);
    });

    it('every metric and label the Grafana dashboard queries is one the apps emit', () => {
      const expressions = dashboardExpressions();
      expect(expressions.length).toBeGreaterThan(15);
      expect(expressions.flatMap(({ panel, expr }) => problemsOf(expr, series).map((problem) => `${panel}: ${problem}`))).toEqual([]);
    });

    it('the check reads PromQL the way the alerts and panels are written', () => {
      expect(parsePromql('max by (projection) (khala_projection_lag_seconds{app=~"runtime|projector-worker"}) > 30 for 5m')).toEqual([
        { metric: 'khala_projection_lag_seconds', labels: { app: 'runtime|projector-worker' }, grouping: ['projection'] },
      ]);
      expect(parsePromql('rate(khala_gateway_updates_sent_total[$__rate_interval])').map((selector) => selector.metric)).toEqual(['khala_gateway_updates_sent_total']);
      expect(parsePromql('khala_process_open_fds / khala_process_max_fds > 0.8').map((selector) => selector.metric)).toEqual(['khala_process_open_fds', 'khala_process_max_fds']);
      const one = new Map([['runtime', new Map([['khala_x', new Set(['app', 'projection'])]])]]);
      expect(problemsOf('sum by (tenant) (khala_x{app="runtime"})', one)).toEqual(['sum by (tenant) (khala_x{app="runtime"}): khala_x has no label tenant']);
      expect(problemsOf('khala_x{app="gateway"}', one)).toEqual(['khala_x{app="gateway"}: no app is labelled app=~"gateway"']);
      expect(problemsOf('rate(khala_y[5m])', one)).toEqual(['rate(khala_y[5m]): khala_y is not emitted']);
    });

    it("every metric of the docs' table is one an app emits", () => {
      const table = [...read(OPERATIONS).matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((match) => match[1]);
      expect(table.length).toBeGreaterThan(20);
      expect(table.filter((metric) => !names.has(metric))).toEqual([]);
    });
  });
});
