import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The version of the root package.json. Searched upwards from this file because the CLI runs both
 * from its source (apps/cli/src) and from the build (dist/apps/cli/src), at different depths.
 */
export function cliVersion(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (name === 'khala' && version) return version;
    }
    if (dirname(dir) === dir) throw new Error('the khala package.json was not found above the CLI');
  }
}
