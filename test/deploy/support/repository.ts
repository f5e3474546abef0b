import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** The repository root, whatever directory jest was started from. */
export const REPO_ROOT = resolve(__dirname, '../../..');

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export function readRepoFile(path: string): string {
  return readFileSync(repoPath(path), 'utf8');
}

/** Repository-relative paths of the files under `dir` whose names pass `keep`. */
export function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (absolute: string) => {
    for (const entry of readdirSync(absolute, { withFileTypes: true })) {
      const path = join(absolute, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (keep(entry.name)) found.push(relative(REPO_ROOT, path));
    }
  };
  walk(repoPath(dir));
  return found.sort();
}

/** The TypeScript sources of an app or library (no tests). */
export function sourcesUnder(dir: string): string[] {
  return filesUnder(dir, (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.e2e-spec.ts'));
}
