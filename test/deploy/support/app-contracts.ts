import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { loadEnv } from '@khala/platform';
import { readRepoFile, repoPath, REPO_ROOT, sourcesUnder } from './repository';

/** The image's entrypoint script: the one place that maps a container command to a built file. */
export const ENTRYPOINT_SCRIPT = 'deploy/docker/khala-entrypoint.sh';
/** Where the Dockerfile puts the application (its WORKDIR). */
export const IMAGE_APP_DIR = '/app';

type EnvClass = new () => object;

/** What the code says about one process the image can run, read from the code itself. */
export interface AppContract {
  /** The entrypoint command that starts it (`control`, `gateway`, `oa`, …). */
  command: string;
  /** The built file the entrypoint runs, relative to the image's app directory (`dist/apps/…/main.js`). */
  entry: string;
  /** The TypeScript file that compiles to it. */
  source: string;
  /** Env keys the process reads: its env classes' validated keys plus direct process.env reads. */
  envKeys: ReadonlySet<string>;
  envClasses: EnvClass[];
  /** The env key of its HTTP port and that key's default; undefined for a process without HTTP. */
  port?: { key: string; defaultValue: number };
  /** Keys the entry refuses to start without (`if (!env.X) throw`). */
  requiredKeys: string[];
}

/** Entrypoint command → built file, from `<command>) exec node /app/<file>` lines. */
export function entrypointCommands(script = readRepoFile(ENTRYPOINT_SCRIPT)): Map<string, string> {
  const commands = new Map<string, string>();
  for (const match of script.matchAll(/^\s*([a-z][a-z-]*)\)\s*exec node (\S+\.js)\b/gm)) {
    commands.set(match[1], relative(IMAGE_APP_DIR, match[2]));
  }
  return commands;
}

/** The source file tsc compiles to a `dist/…js` path (tsconfig outDir ./dist, root = the repository). */
export function sourceOfBuiltFile(entry: string): string {
  return entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
}

export async function loadAppContracts(): Promise<Map<string, AppContract>> {
  const contracts = new Map<string, AppContract>();
  for (const [command, entry] of entrypointCommands()) {
    const source = sourceOfBuiltFile(entry);
    const envClasses = await envClassesOf(source);
    const appDir = source.split('/').slice(0, 3).join('/');
    const envKeys = new Set([...envClasses.flatMap(validatedKeys), ...directEnvReads([appDir, 'libs'])]);
    const requiredKeys = [...readRepoFile(source).matchAll(/if \(!env\.(\w+)\) throw/g)].map(([, key]) => key);
    contracts.set(command, { command, entry, source, envKeys, envClasses, port: portOf(source, envClasses), requiredKeys });
  }
  return contracts;
}

/** Runs the app's own validation (loadEnv) on an environment; throws naming every bad key. */
export function validateEnv(contract: AppContract, env: Record<string, string>): void {
  for (const envClass of contract.envClasses) loadEnv(envClass, env);
}

/** Classes passed to loadEnv in the entry file or in the files it imports relatively (one level). */
async function envClassesOf(source: string): Promise<EnvClass[]> {
  const files = [source, ...relativeImportsOf(source)];
  const classes = new Map<string, EnvClass>();
  for (const file of files) {
    const text = readRepoFile(file);
    for (const [, name] of text.matchAll(/loadEnv\((\w+)/g)) {
      if (classes.has(name)) continue;
      const from = new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from '([^']+)'`).exec(text)?.[1];
      if (!from) throw new Error(`${file}: cannot find where ${name} is imported from`);
      const module = (await import(modulePath(file, from))) as Record<string, EnvClass>;
      classes.set(name, module[name]);
    }
  }
  return [...classes.values()];
}

/** A relative import from `file`, or a `@khala/<lib>[/…]` alias (tsconfig paths), as an absolute path. */
function modulePath(file: string, from: string): string {
  const alias = /^@khala\/([a-z-]+)(\/.*)?$/.exec(from);
  if (alias) return repoPath('libs', alias[1], 'src', alias[2] ?? '');
  if (!from.startsWith('.')) throw new Error(`${file}: env class imported from package ${from}`);
  return join(REPO_ROOT, dirname(file), from);
}

function relativeImportsOf(source: string): string[] {
  return [...readRepoFile(source).matchAll(/from '(\.[^']+)'/g)]
    .map(([, from]) => relative(REPO_ROOT, join(repoPath(dirname(source)), `${from}.ts`)))
    .filter((file) => existsSync(repoPath(file)));
}

/** The properties class-validator validates on the class (inherited ones included). */
function validatedKeys(envClass: EnvClass): string[] {
  return getMetadataStorage()
    .getTargetValidationMetadatas(envClass, '', true, false)
    .map((metadata) => metadata.propertyName);
}

function directEnvReads(dirs: string[]): string[] {
  return dirs
    .flatMap((dir) => sourcesUnder(dir))
    .flatMap((file) => [...readRepoFile(file).matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)])
    .map((match) => match[1] ?? match[2]);
}

/**
 * `listenOn(app, env.X_PORT, …)` in the entry (the projector worker's `httpPort: env.X_PORT`) names
 * the port key; the env class holds its default.
 */
function portOf(source: string, envClasses: EnvClass[]): AppContract['port'] {
  const match = /listenOn\(\s*\w+,\s*env\.(\w+)|httpPort:\s*env\.(\w+)/.exec(readRepoFile(source));
  const key = match?.[1] ?? match?.[2];
  if (!key) return undefined;
  for (const envClass of envClasses) {
    const value = (new envClass() as Record<string, unknown>)[key];
    if (typeof value === 'number') return { key, defaultValue: value };
  }
  throw new Error(`${source}: listens on env.${key}, which no env class of it defaults`);
}
