import { CommonEnv } from '@khala/platform';
import { parseYaml, yamlFilesUnder } from './support/yaml-files';

// The graceful drain (docs/deploy.md, "Graceful drain") must fit in the time Kubernetes gives a pod
// between the start of its termination and SIGKILL: the preStop pause runs first, then SIGTERM starts
// a drain bounded by SHUTDOWN_DRAIN_MS, then projectors and pools close.

/** What stopping projectors and closing pools may take once the drain's deadline has passed. */
const AFTER_DRAIN_SECONDS = 5;
/** Kubernetes' default when a pod spec sets none. */
const DEFAULT_GRACE_SECONDS = 30;

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec: { terminationGracePeriodSeconds?: number; containers: Container[] } } };
  data?: Record<string, string>;
}

const manifests = yamlFilesUnder('deploy/k8s').flatMap((file) => parseYaml(file).documents as Manifest[]);
const configMaps = new Map(manifests.filter((m) => m.kind === 'ConfigMap').map((m) => [m.metadata.name, m.data ?? {}]));
const deployments = manifests.filter((m) => m.kind === 'Deployment' && m.spec?.template);

/** SHUTDOWN_DRAIN_MS as the container sees it: its own env, then its ConfigMaps, then the env class default. */
function drainMs(container: Container): number {
  const own = container.env?.find((entry) => entry.name === 'SHUTDOWN_DRAIN_MS')?.value;
  if (own !== undefined) return Number(own);
  for (const source of container.envFrom ?? []) {
    const value = configMaps.get(source.configMapRef?.name ?? '')?.SHUTDOWN_DRAIN_MS;
    if (value !== undefined) return Number(value);
  }
  return new CommonEnv().SHUTDOWN_DRAIN_MS;
}

function preStopSeconds(container: Container): number {
  const command = container.lifecycle?.preStop?.exec?.command;
  return command?.[0] === 'sleep' ? Number(command[1]) : 0;
}

describe('deploy/k8s: the graceful drain fits in each pod\'s grace period', () => {
  it('finds the Deployments and the drain bound they run with', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['control', 'khala-gateway', 'projector-worker', 'runtime']);
    expect(configMaps.get('khala-common')?.SHUTDOWN_DRAIN_MS).toBeDefined();
  });

  it.each(deployments.map((d) => [d.metadata.name, d] as const))('%s: terminationGracePeriodSeconds ≥ preStop + SHUTDOWN_DRAIN_MS + the projectors\' stop', (_name, deployment) => {
    const spec = deployment.spec!.template!.spec;
    for (const container of spec.containers) {
      const needed = preStopSeconds(container) + Math.ceil(drainMs(container) / 1000) + AFTER_DRAIN_SECONDS;
      const grace = spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
      expect({ container: container.name, grace, needed, fits: grace >= needed }).toMatchObject({ container: container.name, fits: true });
    }
  });
});

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  stop_grace_period?: string;
}

/** Compose durations as written here: "30s", "1m30s", or none (Compose's default, 10 s). */
function composeSeconds(value: string | undefined): number {
  if (value === undefined) return 10;
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (!match || value === '') throw new Error(`unreadable stop_grace_period ${value}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

describe('deploy/compose.yaml: the graceful drain fits in each app\'s stop_grace_period', () => {
  const services = Object.entries((parseYaml('deploy/compose.yaml').documents[0] as { services: Record<string, ComposeService> }).services);
  const apps = services.filter(([, service]) => service.image?.includes('khala') && ['control', 'runtime', 'gateway', 'projector-worker'].includes(service.command?.[0] ?? ''));

  it('finds every long-running app', () => {
    expect(apps.map(([name]) => name).sort()).toEqual(['control', 'gateway-1', 'gateway-2', 'projector-worker', 'runtime']);
  });

  it.each(apps)('%s: stop_grace_period ≥ SHUTDOWN_DRAIN_MS + the projectors\' stop', (name, service) => {
    const drain = Number(service.environment?.SHUTDOWN_DRAIN_MS ?? new CommonEnv().SHUTDOWN_DRAIN_MS);
    const needed = Math.ceil(drain / 1000) + AFTER_DRAIN_SECONDS;
    const grace = composeSeconds(service.stop_grace_period);
    expect({ service: name, grace, needed, fits: grace >= needed }).toMatchObject({ service: name, fits: true });
  });
});
