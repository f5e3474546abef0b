import { existsSync } from 'node:fs';
import { readRepoFile, repoPath } from './support/repository';

// docs/deploy.md is the operator's one page: every repository path it tells them to run, copy or
// edit must exist, so a renamed artifact cannot leave the page pointing at nothing.
describe('docs/deploy.md', () => {
  const page = readRepoFile('docs/deploy.md');
  const mentioned = [...new Set([...page.matchAll(/\b((?:deploy|docs)\/[\w./-]*[\w])/g)].map(([, path]) => path))];

  it('mentions the artifacts', () => {
    expect(mentioned).toEqual(expect.arrayContaining(['deploy/compose.yaml', 'deploy/k8s', 'deploy/compose/generate-env.sh']));
  });

  // What the steps themselves create (the env file, the test cluster's certificates) is not in the repository.
  const created = ['deploy/.env', 'deploy/kurrentdb-cluster/certs'];
  it.each(mentioned.filter((path) => !created.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))))('%s exists', (path) => {
    expect(existsSync(repoPath(path))).toBe(true);
  });

  it('is linked from the README', () => {
    expect(readRepoFile('README.md')).toContain('(docs/deploy.md)');
  });
});
