import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm ci` on a fresh machine refuses a lock that lacks any platform variant of an optional
 * binary (npm 11 drops the variants this machine's registry does not serve). `npm run lockfile:fix`
 * restores them; this test fails when someone forgot it after an install.
 */
describe('package-lock.json', () => {
  it('has an entry for every optional dependency, so npm ci accepts it on a fresh clone', () => {
    const lock = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { optionalDependencies?: Record<string, string> }>;
    };
    const missing: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${key ? `${key}/` : ''}node_modules/${name}`;
        if (!lock.packages[nested] && !lock.packages[`node_modules/${name}`]) missing.push(name);
      }
    }
    expect(missing).toEqual([]);
  });
});
