import { existsSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { AppContract, ENTRYPOINT_SCRIPT, entrypointCommands, IMAGE_APP_DIR, loadAppContracts, sourceOfBuiltFile, validateEnv } from './support/app-contracts';
import { copiesOf, envOf, execForm, instructionsOf, parseDockerfile, Stage } from './support/dockerfile';
import { globToRegex, isIgnored } from './support/dockerignore';
import { readRepoFile, repoPath } from './support/repository';
import { platformRoutes } from './support/routes';

// The Dockerfile and its entrypoint, checked against what the build produces and what the apps
// read, without a Docker engine: a wrong path here is an image that builds and then cannot start.

const stages = parseDockerfile(readRepoFile('Dockerfile'));
const image = stages.at(-1)!;
const dockerignore = readRepoFile('.dockerignore');
let apps: Map<string, AppContract>;

beforeAll(async () => {
  apps = await loadAppContracts();
});

function stageNamed(name: string): Stage {
  const stage = stages.find((candidate) => candidate.name === name);
  if (!stage) throw new Error(`no build stage named ${name}`);
  return stage;
}

function workdirOf(stage: Stage): string {
  return instructionsOf(stage, 'WORKDIR').at(-1)?.args ?? '/';
}

/** Where a COPY into `stage` puts a file: the image path for `destination` (absolute or WORKDIR-relative). */
function imagePath(stage: Stage, destination: string): string {
  return posix.resolve(workdirOf(stage), destination);
}

describe('Dockerfile', () => {
  it('is multi-stage: the image is built from a build stage and takes no dev dependency from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const fromOtherStages = copiesOf(image).filter((copy) => copy.from);
    expect(fromOtherStages.length).toBeGreaterThan(0);
    for (const copy of fromOtherStages) expect(stages.map((stage) => stage.name)).toContain(copy.from);
    // node_modules in the image come from an install that omits dev dependencies.
    const modules = copiesOf(image).find((copy) => copy.sources.some((source) => source.endsWith('node_modules')));
    expect(modules?.from).toBeDefined();
    expect(instructionsOf(stageNamed(modules!.from!), 'RUN').map((run) => run.args).join('\n')).toMatch(/npm ci\b.*--omit=dev/);
  });

  it('runs as a non-root user, numeric so Kubernetes can verify runAsNonRoot', () => {
    const user = instructionsOf(image, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    const [uid] = user!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('listens on every interface (HOST=0.0.0.0) and sets only env keys the apps read', () => {
    const env = envOf(image);
    expect(env.HOST).toBe('0.0.0.0');
    // NODE_ENV is read by Node libraries (Express), not by an env class.
    const read = new Set(['NODE_ENV', ...[...apps.values()].flatMap((app) => [...app.envKeys])]);
    for (const key of Object.keys(env)) expect({ key, readByAnApp: read.has(key) }).toEqual({ key, readByAnApp: true });
    for (const app of apps.values()) {
      if (app.envClasses.length) expect(() => validateEnv(app, env)).not.toThrow();
    }
  });

  it('builds dist/ with nest build from tsconfig.build.json, into the app directory the entrypoint runs from', () => {
    const build = stages.find((stage) => instructionsOf(stage, 'RUN').some((run) => /\bnpm run build\b/.test(run.args)));
    expect(build).toBeDefined();
    const packageJson = JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> };
    expect(packageJson.scripts.build).toBe('nest build');
    const nestCli = JSON.parse(readRepoFile('nest-cli.json')) as { compilerOptions: { tsConfigPath: string; webpack?: boolean; builder?: string } };
    // tsc (no webpack bundle) keeps one .js per .ts under outDir, at the source's path.
    expect(nestCli.compilerOptions).toMatchObject({ tsConfigPath: 'tsconfig.build.json', webpack: false, builder: 'tsc' });
    const tsconfig = JSON.parse(readRepoFile('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir?: string } };
    expect(posix.normalize(tsconfig.compilerOptions.outDir)).toBe('dist');
    expect(tsconfig.compilerOptions.rootDir).toBeUndefined();

    const dist = copiesOf(image).find((copy) => copy.from === build!.name && copy.sources.some((source) => source.endsWith('/dist')));
    expect(dist).toBeDefined();
    expect(dist!.sources).toEqual([posix.join(workdirOf(build!), 'dist')]);
    expect(workdirOf(image)).toBe(IMAGE_APP_DIR);
    expect(imagePath(image, dist!.destination)).toBe(posix.join(IMAGE_APP_DIR, 'dist'));
  });

  it('sends the build everything it compiles and the image everything it copies (.dockerignore)', () => {
    const contextSources = [...stages.flatMap((stage) => copiesOf(stage).filter((copy) => !copy.from).flatMap((copy) => copy.sources))];
    expect(contextSources).toEqual(expect.arrayContaining(['migrations', 'apps', 'libs', ENTRYPOINT_SCRIPT]));
    for (const source of contextSources) {
      expect({ source, exists: existsSync(repoPath(source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: isIgnored(dockerignore, source) }).toEqual({ source, ignored: false });
    }
    for (const app of apps.values()) expect({ source: app.source, ignored: isIgnored(dockerignore, app.source) }).toEqual({ source: app.source, ignored: false });
    // Local state and secrets stay out of the context.
    for (const path of ['.data/pglite', 'node_modules/pg/package.json', 'dist/apps/x.js', 'deploy/.env', '.env', 'test/deploy/image.spec.ts', 'apps/runtime/src/runtime.env.spec.ts']) {
      expect({ path, ignored: isIgnored(dockerignore, path) }).toEqual({ path, ignored: true });
    }
  });

  it('keeps package.json beside migrations/, which is how the apps and oa find the SQL files', () => {
    const destinations = copiesOf(image)
      .filter((copy) => !copy.from)
      .flatMap((copy) => copy.sources.map((source) => ({ source, target: imagePath(image, copy.destination.endsWith('/') ? posix.join(copy.destination, posix.basename(source)) : copy.destination) })));
    const target = (source: string) => destinations.find((entry) => entry.source === source)?.target;
    expect(target('package.json')).toBe(posix.join(IMAGE_APP_DIR, 'package.json'));
    expect(target('migrations')).toBe(posix.join(IMAGE_APP_DIR, 'migrations'));
  });

  it('enters through the entrypoint script, which exists and is executable', () => {
    const entrypoint = execForm(instructionsOf(image, 'ENTRYPOINT').at(-1)!.args);
    expect(entrypoint).toBeDefined();
    const installed = copiesOf(image).find((copy) => copy.sources.includes(ENTRYPOINT_SCRIPT));
    expect(installed).toBeDefined();
    expect(posix.basename(installed!.destination)).toBe(entrypoint![0]);
    expect(installed!.destination.startsWith('/usr/local/bin/')).toBe(true);
    expect(statSync(repoPath(ENTRYPOINT_SCRIPT)).mode & 0o111).not.toBe(0);
  });

  it("maps every command to a built file whose source the build compiles", () => {
    const commands = entrypointCommands();
    expect([...commands.keys()].sort()).toEqual(['control', 'embedded', 'gateway', 'oa', 'projector-worker', 'runtime']);
    const buildConfig = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[]; exclude: string[] };
    for (const [command, entry] of commands) {
      const source = sourceOfBuiltFile(entry);
      expect({ command, source, exists: existsSync(repoPath(source)) }).toEqual({ command, source, exists: true });
      expect({ command, included: buildConfig.include.some((glob) => matchesGlob(glob, source)) }).toEqual({ command, included: true });
      expect({ command, excluded: buildConfig.exclude.some((glob) => matchesGlob(glob, source) || source.startsWith(`${glob}/`)) }).toEqual({ command, excluded: false });
    }
    // The package's own start scripts run the same files.
    const scripts = Object.values((JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> }).scripts).join('\n');
    for (const command of ['control', 'runtime', 'gateway']) expect(scripts).toContain(commands.get(command));
  });

  it("health-checks the readiness route on the running app's own port", async () => {
    const healthcheck = execForm(instructionsOf(image, 'HEALTHCHECK').at(-1)!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(healthcheck?.[0]).toBe('node');
    const script = healthcheck![1];
    const copied = copiesOf(image).find((copy) => imagePath(image, copy.destination) === script);
    expect(copied).toBeDefined();
    const probe = (await import(repoPath(copied!.sources[0]))) as {
      APP_HTTP: Record<string, { portKey: string; defaultPort: number }>;
      READINESS_PATH: string;
      appOf(commandLine: string): string | undefined;
    };
    expect(probe.READINESS_PATH).toBe(platformRoutes().ready);
    const httpApps = [...apps.values()].filter((app) => app.port && app.command !== 'embedded');
    expect(Object.keys(probe.APP_HTTP).sort()).toEqual(httpApps.map((app) => app.entry).sort());
    for (const app of httpApps) {
      expect({ entry: app.entry, ...probe.APP_HTTP[app.entry] }).toEqual({ entry: app.entry, portKey: app.port!.key, defaultPort: app.port!.defaultValue });
      expect(probe.appOf(`node ${posix.join(IMAGE_APP_DIR, app.entry)}`)).toBe(app.entry);
    }
    expect(httpApps.map((app) => app.command)).toContain('projector-worker');
    expect(probe.appOf(`node ${posix.join(IMAGE_APP_DIR, apps.get('oa')!.entry)}`)).toBeUndefined();
  });
});

/** tsconfig include/exclude globs: `**` any directories, `*` within one segment. */
function matchesGlob(glob: string, path: string): boolean {
  return globToRegex(glob).test(path);
}
