/** Printing and saving benchmark results: one human table per scenario, JSON to bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ScenarioResult } from './scenario';

export function machineDescription(): Record<string, unknown> {
  return {
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    at: new Date().toISOString(),
  };
}

export function writeResult(result: ScenarioResult, smoke: boolean): string {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.scenario}${smoke ? '.smoke' : ''}.json`);
  writeFileSync(file, JSON.stringify({ ...result, machine: result.machine ?? machineDescription() }, null, 2) + '\n');
  return file;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return String(Math.round(value * 100) / 100);
}

export function renderTable(result: ScenarioResult): string {
  const figureNames = [...new Set(result.measurements.flatMap((m) => Object.keys(m.figures)))];
  const header = ['system', 'variant', ...figureNames, 'gaps', 'dups', 'reorders'];
  const rows = result.measurements.map((m) => [
    m.system,
    m.variant,
    ...figureNames.map((f) => (f in m.figures ? formatNumber(m.figures[f]) : '')),
    String(m.integrity.gaps),
    String(m.integrity.duplicates),
    String(m.integrity.reorders),
  ]);
  const lines = [`## ${result.scenario}`, '', markdownTable(header, rows)];
  if (result.ratios.length > 0) {
    lines.push(
      '',
      markdownTable(
        ['ratio', 'value', 'target', 'met'],
        result.ratios.map((r) => [r.label, formatNumber(r.value), r.target, r.met ? 'yes' : 'NO']),
      ),
    );
  }
  for (const note of result.notes ?? []) lines.push('', `- ${note}`);
  return lines.join('\n') + '\n';
}

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
