import { parseAllDocuments } from 'yaml';
import { filesUnder, readRepoFile } from './repository';

export interface ParsedYaml {
  path: string;
  documents: unknown[];
  /** Parse errors and warnings, with their positions: empty for a valid file. */
  problems: string[];
}

export function yamlFilesUnder(dir: string): string[] {
  return filesUnder(dir, (name) => /\.ya?ml$/.test(name));
}

/**
 * Every document of a YAML file as plain data. Merge keys (`<<: *anchor`) are resolved as
 * Compose resolves them; an empty document (a trailing `---`) is dropped.
 */
export function parseYaml(path: string): ParsedYaml {
  const documents = parseAllDocuments(readRepoFile(path), { merge: true, prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const problems = list.flatMap((document) => [...document.errors, ...document.warnings].map((problem) => `${path}: ${problem.message}`));
  return {
    path,
    documents: list.map((document) => document.toJS({ maxAliasCount: 100 }) as unknown).filter((value) => value !== null),
    problems,
  };
}
