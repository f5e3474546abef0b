import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { APP_ROLES } from '@khala/platform';
import { AppContract, loadAppContracts } from './support/app-contracts';
import { expectEnvFitsApp, listeningPort, ownDatabaseUrlKey } from './support/env-checks';
import { readRepoFile, repoPath } from './support/repository';
import { controllerPrefixes, getRoutesOf, platformRoutes, webSocketPaths } from './support/routes';
import { parseYaml, yamlFilesUnder } from './support/yaml-files';

// deploy/k8s checked offline: a Deployment per app with probes on the real health routes, drain
// and disruption budgets, resource requests, each container's env against its app's env class,
// ConfigMap/Secret references that resolve, least-privilege logins, and routing to the right app.

const K8S_DIR = 'deploy/k8s';
const SECRETS_EXAMPLE = `${K8S_DIR}/secrets.env.example`;
const ROLE_SQL = 'deploy/sql/app-role-passwords.sql';
/** The image name the manifests use; each kustomization maps it to the built image. */
const KHALA_IMAGE = 'khala';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  enableServiceLinks?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    template?: PodTemplate;
    ports?: { name?: string; port: number; targetPort: string | number }[];
    scaleTargetRef?: { kind: string; name: string };
    minReplicas?: number;
    rules?: { http: { paths: { path: string; pathType: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[];
  };
  data?: Record<string, string>;
}
interface Kustomization {
  resources: string[];
  images: { name: string; newName: string; newTag: string }[];
}

const files = yamlFilesUnder(K8S_DIR);
const parsedFiles = files.map((file) => parseYaml(file));
const isKustomization = (path: string) => posix.basename(path) === 'kustomization.yaml';
const manifests = parsedFiles.filter((file) => !isKustomization(file.path)).flatMap((file) => file.documents as Manifest[]);
const ofKind = (kind: string) => manifests.filter((manifest) => manifest.kind === kind);
const configMaps = new Map(ofKind('ConfigMap').map((map) => [map.metadata.name, map.data ?? {}]));

/** Keys of khala-secrets: `KEY=` lines are required ones, `# KEY=` lines optional ones. */
const secretKeys = new Map<string, { optional: boolean; example: string }>(
  readRepoFile(SECRETS_EXAMPLE)
    .split('\n')
    .map((line) => /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[2], { optional: Boolean(match[1]), example: match[3] }]),
);

let apps: Map<string, AppContract>;
beforeAll(async () => {
  apps = await loadAppContracts();
});

function podTemplates(): { owner: string; template: PodTemplate }[] {
  return [...ofKind('Deployment'), ...ofKind('Job')].map((manifest) => ({ owner: `${manifest.kind}/${manifest.metadata.name}`, template: manifest.spec!.template! }));
}

function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

/** The app a Khala container runs (its first arg is the entrypoint command). */
function appOf(container: Container): AppContract {
  const command = (container.command ?? container.args ?? ['help'])[0];
  const app = apps.get(command);
  if (!app) throw new Error(`container ${container.name} runs '${command}', which the image's entrypoint does not know`);
  return app;
}

function khalaContainers(): { owner: string; template: PodTemplate; container: Container; app: AppContract }[] {
  return podTemplates().flatMap(({ owner, template }) =>
    allContainers(template.spec)
      .filter((container) => container.image === KHALA_IMAGE)
      .map((container) => ({ owner, template, container, app: appOf(container) })),
  );
}

/** Every env key the container gets, and the literal values among them (env values, ConfigMap data). */
function environmentOf(container: Container): { keys: string[]; literal: Record<string, string> } {
  const literal: Record<string, string> = {};
  const keys: string[] = [];
  for (const source of container.envFrom ?? []) {
    const data = configMaps.get(source.configMapRef!.name) ?? {};
    keys.push(...Object.keys(data));
    Object.assign(literal, data);
  }
  for (const variable of container.env ?? []) {
    keys.push(variable.name);
    const fromMap = variable.valueFrom?.configMapKeyRef;
    if (variable.value !== undefined) literal[variable.name] = variable.value;
    else if (fromMap) literal[variable.name] = configMaps.get(fromMap.name)?.[fromMap.key] ?? '';
  }
  return { keys, literal };
}

function deploymentsRunning(command: string): Manifest[] {
  return ofKind('Deployment').filter((deployment) => deployment.spec!.template!.spec.containers.some((container) => container.image === KHALA_IMAGE && appOf(container).command === command));
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

describe('Kubernetes manifests', () => {
  it('parse as YAML, and every document names its apiVersion, kind and name', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(parsedFiles.flatMap((file) => file.problems)).toEqual([]);
    for (const manifest of manifests) {
      expect({ apiVersion: typeof manifest.apiVersion, kind: typeof manifest.kind, name: typeof manifest.metadata?.name }).toEqual({ apiVersion: 'string', kind: 'string', name: 'string' });
    }
  });

  it('are all listed in their kustomization, which sets one image for both', () => {
    const kustomizations = parsedFiles.filter((file) => isKustomization(file.path));
    expect(kustomizations.map((file) => file.path).sort()).toEqual([`${K8S_DIR}/kustomization.yaml`, `${K8S_DIR}/migrate/kustomization.yaml`]);
    const images = new Set<string>();
    for (const { path, documents } of kustomizations) {
      const kustomization = documents[0] as Kustomization;
      const dir = posix.dirname(path);
      const siblings = files.filter((file) => posix.dirname(file) === dir && !isKustomization(file));
      expect({ path, resources: kustomization.resources.map((resource) => posix.join(dir, resource)).sort() }).toEqual({ path, resources: siblings.sort() });
      for (const image of kustomization.images.filter((entry) => entry.name === KHALA_IMAGE)) images.add(`${image.newName}:${image.newTag}`);
    }
    expect(images.size).toBe(1);
  });

  it('have a Deployment for every app the topology runs apart', () => {
    for (const command of ['control', 'runtime', 'gateway', 'projector-worker']) expect({ command, deployments: deploymentsRunning(command).length }).toEqual({ command, deployments: 1 });
  });

  it('run every pod as non-root, without service-link env vars, and every container with resource requests', () => {
    for (const { owner, template } of podTemplates()) {
      // Service links set e.g. KHALA_PORT=tcp://… for a Service named khala: the apps read such names.
      expect({ owner, enableServiceLinks: template.spec.enableServiceLinks }).toEqual({ owner, enableServiceLinks: false });
      expect({ owner, runAsNonRoot: template.spec.securityContext?.runAsNonRoot }).toEqual({ owner, runAsNonRoot: true });
      for (const container of allContainers(template.spec)) {
        expect({ owner, container: container.name, requests: Object.keys(container.resources?.requests ?? {}).sort() }).toEqual({ owner, container: container.name, requests: ['cpu', 'memory'] });
        expect({ owner, container: container.name, escalation: container.securityContext?.allowPrivilegeEscalation }).toEqual({ owner, container: container.name, escalation: false });
      }
    }
  });

  it("give each app only env keys it reads, with values its env class accepts, from ConfigMaps and Secret keys that exist", () => {
    for (const { owner, container, app } of khalaContainers()) {
      const { keys, literal } = environmentOf(container);
      expectEnvFitsApp(`${owner} container ${container.name}`, app, keys, literal);
    }
    for (const { owner, template } of podTemplates()) {
      for (const container of allContainers(template.spec)) {
        for (const source of container.envFrom ?? []) expect({ owner, configMap: source.configMapRef?.name, exists: configMaps.has(source.configMapRef?.name ?? '') }).toEqual({ owner, configMap: source.configMapRef?.name, exists: true });
        for (const variable of container.env ?? []) {
          const secret = variable.valueFrom?.secretKeyRef;
          if (!secret) continue;
          expect({ owner, secret: secret.name, key: secret.key }).toEqual({ owner, secret: 'khala-secrets', key: secret.key });
          const listed = secretKeys.get(secret.key);
          expect({ owner, key: secret.key, listed: Boolean(listed) }).toEqual({ owner, key: secret.key, listed: true });
          // A key the example leaves commented out must be optional where it is used.
          if (listed!.optional) expect({ owner, key: secret.key, optional: secret.optional }).toEqual({ owner, key: secret.key, optional: true });
        }
      }
    }
  });

  it('log each app in as its own role; only the migrate job sees the admin URL', () => {
    for (const { owner, container, app } of khalaContainers()) {
      const keys = environmentOf(container).keys;
      if (app.command === 'oa') continue;
      const urlKey = ownDatabaseUrlKey(app);
      const role = APP_ROLES[urlKey.replace(/_DATABASE_URL$/, '').toLowerCase() as keyof typeof APP_ROLES];
      expect({ owner, keys: keys.filter((key) => key.endsWith('DATABASE_URL')) }).toEqual({ owner, keys: [urlKey] });
      expect({ owner, user: new URL(secretKeys.get(urlKey)!.example).username }).toEqual({ owner, user: role });
    }
  });

  describe('HTTP apps', () => {
    const httpContainers = () => khalaContainers().filter(({ owner, app }) => owner.startsWith('Deployment/') && app.port);

    it('expose the port the app listens on, named http, and probe the real health routes on it', () => {
      const { live, ready } = platformRoutes();
      expect(httpContainers().map(({ app }) => app.command).sort()).toEqual(['control', 'gateway', 'projector-worker', 'runtime']);
      for (const { owner, container, app } of httpContainers()) {
        const port = listeningPort(app, environmentOf(container).literal);
        expect({ owner, ports: container.ports }).toEqual({ owner, ports: [{ name: 'http', containerPort: port }] });
        expect({ owner, readiness: container.readinessProbe?.httpGet }).toEqual({ owner, readiness: { path: ready, port: 'http' } });
        expect({ owner, liveness: container.livenessProbe?.httpGet }).toEqual({ owner, liveness: { path: live, port: 'http' } });
        if (container.startupProbe) expect({ owner, startup: container.startupProbe.httpGet?.path }).toEqual({ owner, startup: live });
      }
    });

    it('drain: a preStop pause within the grace period, so endpoints are removed before SIGTERM', () => {
      // The projector worker has no Service (nothing routes to it): a pause would only delay the standby's takeover.
      for (const { owner, template, container } of httpContainers().filter(({ app }) => app.command !== 'projector-worker')) {
        const preStop = container.lifecycle?.preStop?.exec?.command;
        expect({ owner, preStop: preStop?.[0] }).toEqual({ owner, preStop: 'sleep' });
        expect(Number(preStop![1])).toBeLessThan(template.spec.terminationGracePeriodSeconds ?? 30);
      }
    });

    it('are scraped on their own port and metrics route', () => {
      for (const { owner, template, container, app } of httpContainers()) {
        const annotations = template.metadata.annotations ?? {};
        expect({ owner, port: Number(annotations['prometheus.io/port']), path: annotations['prometheus.io/path'] }).toEqual({
          owner,
          port: listeningPort(app, environmentOf(container).literal),
          path: platformRoutes().metrics,
        });
      }
    });

    it('each have a Service selecting their pods on the http port', () => {
      for (const command of ['control', 'runtime', 'gateway']) {
        const [deployment] = deploymentsRunning(command);
        const labels = deployment.spec!.template!.metadata.labels;
        const services = ofKind('Service').filter((service) => selects(service.spec!.selector as Record<string, string>, labels));
        expect({ command, services: services.length }).toEqual({ command, services: 1 });
        expect(services[0].spec!.ports!.map((port) => port.targetPort)).toEqual(['http']);
      }
    });
  });

  it('give every Deployment a PodDisruptionBudget that selects its pods', () => {
    for (const deployment of ofKind('Deployment')) {
      const labels = deployment.spec!.template!.metadata.labels;
      expect(selects((deployment.spec!.selector as { matchLabels: Record<string, string> }).matchLabels, labels)).toBe(true);
      const budgets = ofKind('PodDisruptionBudget').filter((budget) => selects((budget.spec!.selector as { matchLabels: Record<string, string> }).matchLabels, labels));
      expect({ deployment: deployment.metadata.name, budgets: budgets.length }).toEqual({ deployment: deployment.metadata.name, budgets: 1 });
    }
  });

  it('scale the gateways horizontally: several replicas and an autoscaler that keeps at least two', () => {
    const [gateway] = deploymentsRunning('gateway');
    expect(gateway.spec!.replicas).toBeGreaterThanOrEqual(2);
    const autoscalers = ofKind('HorizontalPodAutoscaler').filter((hpa) => hpa.spec!.scaleTargetRef!.kind === 'Deployment' && hpa.spec!.scaleTargetRef!.name === gateway.metadata.name);
    expect(autoscalers).toHaveLength(1);
    expect(autoscalers[0].spec!.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('run the projectors in projector-worker only (runtime has RUNTIME_PROJECTORS=off), with a standby replica', () => {
    for (const { owner, container, app } of khalaContainers()) {
      if (app.command === 'runtime') expect({ owner, projectors: environmentOf(container).literal.RUNTIME_PROJECTORS }).toEqual({ owner, projectors: 'off' });
    }
    expect(deploymentsRunning('projector-worker')[0].spec!.replicas).toBeGreaterThanOrEqual(2);
  });

  it('route the ingress to the app that serves each path, and leave health and metrics unrouted', () => {
    const [ingress] = ofKind('Ingress');
    const paths = ingress.spec!.rules!.flatMap((rule) => rule.http.paths);
    const services = new Map(ofKind('Service').map((service) => [service.metadata.name, service]));
    const commandOfService = (name: string) => {
      const service = services.get(name)!;
      const deployment = ofKind('Deployment').find((candidate) => selects(service.spec!.selector as Record<string, string>, candidate.spec!.template!.metadata.labels))!;
      return appOf(deployment.spec!.template!.spec.containers[0]).command;
    };
    for (const { backend } of paths) {
      const service = services.get(backend.service.name);
      expect({ service: backend.service.name, exists: Boolean(service) }).toEqual({ service: backend.service.name, exists: true });
      expect(service!.spec!.ports!.map((port) => port.name)).toContain(backend.service.port.name);
    }
    // Kubernetes picks the Exact path, else the longest matching Prefix.
    const backendFor = (path: string) => {
      const exact = paths.find((entry) => entry.pathType === 'Exact' && entry.path === path);
      const prefixes = paths.filter((entry) => entry.pathType === 'Prefix' && (path === entry.path || path.startsWith(`${entry.path.replace(/\/$/, '')}/`)));
      const chosen = exact ?? prefixes.sort((a, b) => b.path.length - a.path.length)[0];
      return chosen && commandOfService(chosen.backend.service.name);
    };
    const gatewayPaths = [...webSocketPaths('apps/khala-gateway'), ...getRoutesOf('apps/khala-gateway/src/snapshot/snapshot.controller.ts')];
    for (const path of gatewayPaths) expect({ path, app: backendFor(path) }).toEqual({ path, app: 'gateway' });
    for (const prefix of controllerPrefixes('apps/runtime')) expect({ prefix, app: backendFor(`${prefix}/x`) }).toEqual({ prefix, app: 'runtime' });
    for (const prefix of controllerPrefixes('apps/control')) expect({ prefix, app: backendFor(`${prefix}/x`) }).toEqual({ prefix, app: 'control' });
    const { live, ready, metrics } = platformRoutes();
    for (const path of [live, ready, metrics]) expect({ path, app: backendFor(path) }).toEqual({ path, app: undefined });
  });

  describe('migrate job', () => {
    const job = () => ofKind('Job').find((candidate) => candidate.metadata.name === 'khala-migrate')!;

    it('runs `oa migrate up` with the admin URL before it sets the role passwords', () => {
      const spec = job().spec!.template!.spec;
      expect(spec.initContainers?.map((container) => container.args)).toEqual([['oa', 'migrate', 'up']]);
      expect(spec.initContainers![0].env?.map((variable) => variable.name)).toEqual(['DATABASE_URL']);
    });

    it('sets each app role the password its app URL carries, with the same SQL as compose', () => {
      const [roles] = job().spec!.template!.spec.containers;
      const sqlVolume = job().spec!.template!.spec.volumes!.find((volume) => volume.configMap)!;
      const sql = configMaps.get(sqlVolume.configMap!.name)!;
      expect(Object.values(sql)).toEqual([readRepoFile(ROLE_SQL)]);
      const mount = roles.volumeMounts!.find((volumeMount) => volumeMount.name === sqlVolume.name)!;
      const script = roles.command!.join(' ');
      expect(script).toContain(`-f ${posix.join(mount.mountPath, Object.keys(sql)[0])}`);
      const secretOf = new Map((roles.env ?? []).map((variable) => [variable.name, variable.valueFrom?.secretKeyRef?.key]));
      for (const role of Object.values(APP_ROLES)) {
        const variable = new RegExp(`ALTER ROLE ${role} LOGIN PASSWORD :'(\\w+)'`).exec(readRepoFile(ROLE_SQL))?.[1];
        const envName = new RegExp(`-v ${variable}="\\$(\\w+)"`).exec(script)?.[1];
        const password = secretKeys.get(secretOf.get(envName ?? '') ?? '')?.example;
        const urlOfRole = [...secretKeys.values()].map((entry) => entry.example).find((value) => value.startsWith(`postgres://${role}:`));
        expect({ role, password }).toEqual({ role, password: urlOfRole && new URL(urlOfRole).password });
      }
    });
  });

  it('keep the secrets example free of real values', () => {
    expect(existsSync(repoPath(SECRETS_EXAMPLE))).toBe(true);
    for (const [key, { example }] of secretKeys) expect({ key, placeholder: /CHANGE_ME/.test(example) }).toEqual({ key, placeholder: true });
  });
});
