import { parseYaml, yamlFilesUnder } from './support/yaml-files';

// Every YAML file of the deploy artifacts parses cleanly, including any added later that the
// compose and Kubernetes suites do not otherwise look at.
describe('deploy YAML files', () => {
  const files = yamlFilesUnder('deploy');

  it('include the compose file and the Kubernetes manifests', () => {
    expect(files).toEqual(expect.arrayContaining(['deploy/compose.yaml', 'deploy/k8s/kustomization.yaml', 'deploy/k8s/migrate/job.yaml']));
  });

  it.each(files)('%s parses without errors or warnings', (file) => {
    const parsed = parseYaml(file);
    expect(parsed.problems).toEqual([]);
    expect(parsed.documents.length).toBeGreaterThan(0);
  });
});
