import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { CliContext } from '../../apps/cli/src/cli-context';
import { EXIT } from '../../apps/cli/src/exit-codes';
import { buildProgram } from '../../apps/cli/src/main';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The section of the README under a `## ` heading starting with `title`. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}`);
  if (start < 0) throw new Error(`README.md has no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('README.md', () => {
  it('starts with the two commands, then the CLI, the SDK, the state machines and the protocol', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(firstBlock.split('\n')[0]).toMatch(/^npm ci && npm start\b/);
    expect(firstBlock.split('\n')[1]).toMatch(/^npm test\b/);
    const order = ['## The CLI', '## The SDK', '## State machines and the protocol', '## What it is'].map((heading) => readme.indexOf(heading));
    expect(order.every((at) => at > readme.indexOf(firstBlock))).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(section('State machines')).toContain('docs/state-machines.md');
    expect(section('State machines')).toContain('docs/protocol/');
  });

  it("every oa command of the CLI section exists, and its exit codes are the CLI's", () => {
    const program = buildProgram(new CliContext());
    const find = (path: string[]): Command | undefined =>
      path.reduce<Command | undefined>((command, name) => command?.commands.find((sub) => sub.name() === name), program);
    const rows = section('The CLI').split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const names = [...row.split('|')[1].matchAll(/`([^`]+)`/g)].map((match) => match[1]);
      const parent = names[0].split(' ').filter((word) => /^[a-z]+$/.test(word));
      for (const name of names) {
        const words = name.split(' ').filter((word) => /^[a-z]+$/.test(word));
        const path = words.length === 1 && parent.length > 1 ? [...parent.slice(0, -1), words[0]] : words;
        expect({ name, found: find(path) !== undefined }).toEqual({ name, found: true });
      }
    }
    const documented = [...section('The CLI').matchAll(/\*\*(\d)\*\*/g)].map((match) => Number(match[1]));
    expect(documented).toEqual(Object.values(EXIT));
  });

  it('every relative link points at a file of the repository', () => {
    const links = [...readme.matchAll(/\]\((?!https?:)([^)#]+)(#[^)]*)?\)/g)].map((match) => match[1]);
    expect(links.length).toBeGreaterThan(5);
    expect(links.filter((link) => !existsSync(join(dirname(join(ROOT, 'README.md')), link)))).toEqual([]);
  });
});
