import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { KeyRing } from '@khala/auth';
import { createHttpApp, Database, loadEnv, METRICS_REGISTRY, migrateUp } from '@khala/platform';
import { CliEnv } from '../../apps/cli/src/cli.env';
import { ControlEnv } from '../../apps/control/src/control.env';
import { ControlModule } from '../../apps/control/src/control.module';
import { createGatewayApp } from '../../apps/khala-gateway/src/gateway.app';
import { GatewayEnv } from '../../apps/khala-gateway/src/gateway.env';
import { ProjectorWorkerEnv } from '../../apps/runtime/src/projector-worker.env';
import { RuntimeEnv } from '../../apps/runtime/src/runtime.env';
import { RuntimeModule } from '../../apps/runtime/src/runtime.module';
import { testDatabaseUrl } from '../support/test-database';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** The reference of every key and series; the other docs only mention them. */
const OPERATIONS = 'docs/operations.md';
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
    .filter((span) => /[a-z_]+\{[a-z_]+(=|!=|=~)"|\b(rate|sum|max|min|avg|increase)\s*(by\s*\([^)]*\)\s*)?\(/.test(span));
}

interface Selector {
  metric: string;
  labels: Record<string, string>;
  grouping: string[];
}

export function parsePromql(span: string): Selector[] {
  const grouping = [...span.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((match) => match[1].split(',').map((label) => label.trim()).filter(Boolean));
  const withoutGrouping = span.replace(/\bby\s*\([^)]*\)/g, '');
  const selectors: Selector[] = [];
  for (const match of withoutGrouping.matchAll(/([a-z_:][a-z0-9_:]*)\s*(\{([^}]*)\})?\s*(?=[[){\s]|$)/g)) {
    const [, metric, , matchers] = match;
    if (!metric.includes('_') && !matchers) continue; // functions, keywords, durations
    if (/^(rate|sum|max|min|avg|increase|for|and|or)$/.test(metric)) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (matchers ?? '').matchAll(/([a-z_]+)\s*(?:=~|!=|=)\s*"([^"]*)"/g)) labels[name] = value;
    selectors.push({ metric, labels, grouping });
  }
  return selectors;
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

  describe('metrics in the PromQL', () => {
    const apps: INestApplication[] = [];
    /** app label → metric name → its label names (the registry's default `app` included). */
    const series = new Map<string, Map<string, Set<string>>>();

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
      for (const app of apps) {
        await app.init();
        const registry = app.get<Registry>(METRICS_REGISTRY);
        const appLabel = (registry as unknown as { _defaultLabels: { app: string } })._defaultLabels.app;
        const metrics = new Map<string, Set<string>>();
        for (const metric of registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[] }[]) {
          const labels = new Set(['app', ...(metric.labelNames ?? [])]);
          metrics.set(metric.name, labels);
          // A histogram is read as its _bucket (with `le`), _sum and _count series.
          for (const suffix of ['_bucket', '_sum', '_count']) metrics.set(`${metric.name}${suffix}`, suffix === '_bucket' ? new Set([...labels, 'le']) : labels);
        }
        series.set(appLabel, metrics);
      }
    });
    afterAll(async () => {
      for (const app of apps.reverse()) await app.close();
    });

    it('each app labels its series with its own name, the one the docs use', () => {
      expect([...series.keys()].sort()).toEqual(['control', 'gateway', 'runtime']);
      expect(read(OPERATIONS)).toContain('`app` label (`control`, `runtime`, `gateway`)');
    });

    it('every metric and label of the docs\' PromQL is one the app it names emits', () => {
      const spans = promqlSpans(read(OPERATIONS));
      expect(spans.length).toBeGreaterThan(4);
      const wrong: string[] = [];
      for (const span of spans) {
        for (const { metric, labels, grouping } of parsePromql(span)) {
          if (EXTERNAL_SERIES.test(metric)) continue;
          const app = labels.app;
          const candidates = app ? (series.has(app) ? [app] : []) : [...series.keys()];
          if (app && !series.has(app)) wrong.push(`${span}: no app is labelled app="${app}"`);
          const emitting = candidates.filter((name) => series.get(name)!.has(metric));
          if (!emitting.length) {
            wrong.push(`${span}: ${metric} is not emitted${app ? ` by ${app}` : ''}`);
            continue;
          }
          for (const label of [...Object.keys(labels), ...grouping]) {
            if (!emitting.some((name) => series.get(name)!.get(metric)!.has(label))) wrong.push(`${span}: ${metric} has no label ${label}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    });

    it('the check reads PromQL the way the alerts are written', () => {
      expect(parsePromql('max by (projection) (projection_lag_seconds{app="runtime"}) > 30 for 5m')).toEqual([
        { metric: 'projection_lag_seconds', labels: { app: 'runtime' }, grouping: ['projection'] },
      ]);
      expect(parsePromql('rate(khala_gateway_updates_sent_total[5m])').map((selector) => selector.metric)).toEqual(['khala_gateway_updates_sent_total']);
    });

    it('every metric of the docs\' table is one an app emits', () => {
      const table = [...read(OPERATIONS).matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((match) => match[1]);
      expect(table.length).toBeGreaterThan(10);
      const emitted = new Set([...series.values()].flatMap((metrics) => [...metrics.keys()]));
      expect(table.filter((metric) => !emitted.has(metric))).toEqual([]);
    });
  });
});
