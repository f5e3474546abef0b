import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { KeyRing } from '@khala/auth';
import { APP_ROLES } from '@khala/platform';
import { AppContract, loadAppContracts } from './support/app-contracts';
import { caddyPathMatches, proxyRoutes } from './support/caddyfile';
import { expectEnvFitsApp, listeningPort, ownDatabaseUrlKey } from './support/env-checks';
import { readRepoFile, repoPath } from './support/repository';
import { controllerPrefixes, getRoutesOf, platformRoutes, webSocketPaths } from './support/routes';
import { parseYaml } from './support/yaml-files';

// deploy/compose.yaml checked offline: the services the topology needs, each app's env against its
// env class, least-privilege database logins, and the proxy's routes and ports against the apps.

const COMPOSE_FILE = 'deploy/compose.yaml';
const COMPOSE_DIR = posix.dirname(COMPOSE_FILE);
const GENERATE_ENV = 'deploy/compose/generate-env.sh';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
}

const parsed = parseYaml(COMPOSE_FILE);
const compose = parsed.documents[0] as ComposeFile;
let apps: Map<string, AppContract>;
/** What deploy/.env holds after `generate-env.sh > deploy/.env` (the documented first step). */
let dotEnv: Record<string, string>;

beforeAll(async () => {
  apps = await loadAppContracts();
  const generated = spawnSync('sh', [repoPath(GENERATE_ENV)], { encoding: 'utf8' });
  expect(generated.status).toBe(0);
  dotEnv = Object.fromEntries(
    generated.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
});

/** Compose's variable interpolation (`${X}`, `${X:-default}`, `${X:?error}`, `$$`) with deploy/.env's values. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name: string, operator: string | undefined, argument: string) => {
    if (match === '$$') return '$';
    const set = dotEnv[name];
    if (operator === ':-' || operator === '-') return set || argument;
    if (set === undefined || set === '') throw new Error(`${COMPOSE_FILE} uses \${${name}}, which ${GENERATE_ENV} does not set`);
    return set;
  });
}

function environmentOf(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]));
}

/** The Khala services: those running the project's image, with the app their command starts. */
function khalaServices(): { name: string; service: Service; app: AppContract }[] {
  const khalaImage = compose.services.migrate.image;
  return Object.entries(compose.services)
    .filter(([, service]) => service.image === khalaImage)
    .map(([name, service]) => {
      const app = apps.get(service.command?.[0] ?? 'help');
      if (!app) throw new Error(`${COMPOSE_FILE}: service ${name} runs '${service.command?.join(' ')}', which the image's entrypoint does not know`);
      return { name, service, app };
    });
}

function servicesRunning(command: string): string[] {
  return khalaServices()
    .filter((entry) => entry.app.command === command)
    .map((entry) => entry.name);
}

describe('compose deployment', () => {
  it('parses as YAML and uses only variables that generate-env.sh provides', () => {
    expect(parsed.problems).toEqual([]);
    for (const service of Object.values(compose.services)) {
      for (const value of [...Object.values(service.environment ?? {}), ...(service.volumes ?? []), service.image ?? '']) {
        expect(() => interpolate(String(value))).not.toThrow();
      }
    }
  });

  it('runs the whole topology: Postgres, KurrentDB, migrate, control, runtime, projector-worker, two gateways behind a proxy', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'kurrentdb', 'migrate', 'proxy']));
    expect(compose.services.migrate.command).toEqual(['oa', 'migrate', 'up']);
    expect(servicesRunning('control')).toHaveLength(1);
    expect(servicesRunning('runtime')).toHaveLength(1);
    expect(servicesRunning('projector-worker')).toHaveLength(1);
    expect(servicesRunning('gateway').length).toBeGreaterThanOrEqual(2);
  });

  it('moves the projectors out of runtime into projector-worker', () => {
    for (const name of servicesRunning('runtime')) expect(environmentOf(compose.services[name]).RUNTIME_PROJECTORS).toBe('off');
  });

  it("gives each app only env keys it reads, with values its env class accepts", () => {
    for (const { name, service, app } of khalaServices()) {
      const env = environmentOf(service);
      expectEnvFitsApp(`${COMPOSE_FILE} service ${name}`, app, Object.keys(env), env);
      if (env.AUTH_SIGNING_KEYS) expect(() => KeyRing.parse(env.AUTH_SIGNING_KEYS)).not.toThrow();
    }
  });

  it('logs each app in as its own least-privilege role; only the migrate job has the admin URL', () => {
    for (const { name, service, app } of khalaServices()) {
      const env = environmentOf(service);
      if (app.command === 'oa') {
        expect({ name, admin: Boolean(env.DATABASE_URL) }).toEqual({ name, admin: true });
        continue;
      }
      const urlKey = ownDatabaseUrlKey(app);
      const role = APP_ROLES[urlKey.replace(/_DATABASE_URL$/, '').toLowerCase() as keyof typeof APP_ROLES];
      expect({ name, admin: env.DATABASE_URL }).toEqual({ name, admin: undefined });
      expect({ name, user: env[urlKey] && new URL(env[urlKey]).username }).toEqual({ name, user: role });
    }
  });

  it("gives every app role the password in its app's URL (db-roles runs the role SQL with them)", () => {
    const dbRoles = compose.services['db-roles'];
    const sqlMount = dbRoles.volumes!.find((volume) => volume.includes('.sql'))!;
    const sqlFile = posix.join(COMPOSE_DIR, sqlMount.split(':')[0]);
    const sql = readRepoFile(sqlFile);
    const script = dbRoles.command!.join(' ');
    expect(script).toContain(`-f ${sqlMount.split(':')[1]}`);
    const env = environmentOf(dbRoles);
    const passwordsFromUrls = new Map(
      khalaServices()
        .map(({ service, app }) => (app.command === 'oa' ? undefined : new URL(environmentOf(service)[ownDatabaseUrlKey(app)])))
        .filter((url): url is URL => url !== undefined)
        .map((url) => [url.username, url.password]),
    );
    for (const role of Object.values(APP_ROLES)) {
      const variable = new RegExp(`ALTER ROLE ${role} LOGIN PASSWORD :'(\\w+)'`).exec(sql)?.[1];
      expect({ role, variable }).toEqual({ role, variable: expect.any(String) });
      const source = new RegExp(`-v ${variable}="\\$(\\w+)"`).exec(interpolate(script))?.[1];
      expect({ role, password: source && env[source] }).toEqual({ role, password: passwordsFromUrls.get(role) });
    }
  });

  it('starts the apps only after the migrations and the role passwords are in place', () => {
    for (const { name, service, app } of khalaServices()) {
      if (app.command === 'oa') continue;
      expect({ name, dependsOn: service.depends_on }).toMatchObject({
        name,
        dependsOn: { migrate: { condition: 'service_completed_successfully' }, 'db-roles': { condition: 'service_completed_successfully' } },
      });
    }
    for (const service of Object.values(compose.services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(Object.keys(compose.services)).toContain(dependency);
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('.')) expect({ volume, exists: existsSync(repoPath(COMPOSE_DIR, source)) }).toEqual({ volume, exists: true });
      }
    }
  });

  describe('proxy', () => {
    const caddyMount = () => compose.services.proxy.volumes!.find((volume) => volume.includes('Caddyfile'))!;
    const routes = () => proxyRoutes(readRepoFile(posix.join(COMPOSE_DIR, caddyMount().split(':')[0])));
    const portOfService = (name: string) => {
      const entry = khalaServices().find((candidate) => candidate.name === name);
      return entry && listeningPort(entry.app, environmentOf(entry.service));
    };
    /** The first route whose paths match a request path (Caddy's `route` keeps written order). */
    const routeFor = (path: string) => routes().find((route) => route.paths.length === 0 || route.paths.some((pattern) => caddyPathMatches(pattern, path)));
    const commandsBehind = (path: string) => [...new Set(routeFor(path)?.upstreams.map((upstream) => khalaServices().find((entry) => entry.name === upstream.host)?.app.command))];

    it('sends each upstream to a service on the port its app listens on, health-checking readiness', () => {
      expect(routes().length).toBeGreaterThan(0);
      for (const route of routes()) {
        for (const upstream of route.upstreams) expect({ upstream, port: portOfService(upstream.host) }).toEqual({ upstream, port: upstream.port });
        expect(route.healthUri).toBe(platformRoutes().ready);
      }
    });

    it('balances the sync sockets and snapshots over every gateway', () => {
      const gatewayPaths = [...webSocketPaths('apps/khala-gateway'), ...getRoutesOf('apps/khala-gateway/src/snapshot/snapshot.controller.ts')];
      expect(gatewayPaths.length).toBeGreaterThanOrEqual(3);
      for (const path of gatewayPaths) {
        expect({ path, hosts: routeFor(path)?.upstreams.map((upstream) => upstream.host).sort() }).toEqual({ path, hosts: servicesRunning('gateway').sort() });
      }
    });

    it("sends every control and runtime controller's routes to that app, and keeps health and metrics private", () => {
      for (const prefix of controllerPrefixes('apps/runtime')) expect({ prefix, apps: commandsBehind(`${prefix}/x`) }).toEqual({ prefix, apps: ['runtime'] });
      for (const prefix of controllerPrefixes('apps/control')) expect({ prefix, apps: commandsBehind(`${prefix}/x`) }).toEqual({ prefix, apps: ['control'] });
      const { live, ready, metrics } = platformRoutes();
      for (const path of [live, ready, metrics]) expect({ path, route: routeFor(path) }).toEqual({ path, route: undefined });
    });
  });
});
