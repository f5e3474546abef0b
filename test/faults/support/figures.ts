import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One scenario's figures: behaviour (lost, duplicated, gaps) is asserted; times are only printed. */
export interface FaultFigures {
  scenario: string;
  /** Events of the scenario's orgs in the event store afterwards. */
  events: number;
  /** Commands acknowledged (2xx) / sent. */
  commands: number;
  sent: number;
  /** Attempts beyond the first (same Idempotency-Key). */
  retries: number;
  /** Commands answered with a non-retryable error, or still failing at the give-up deadline. */
  rejected: number;
  subscribers: number;
  /** Subscriber reconnects (status went to 'reconnecting'). */
  reconnects: number;
  lost: number;
  duplicated: number;
  /** Subscriber-side: watermarks never delivered, versions delivered twice, states unlike the snapshot. */
  gaps: number;
  subscriberDuplicates: number;
  mismatched: number;
  /** Journal rows that differ from a fresh rebuild. */
  journalDiffs: number;
  /** From the end of the fault (component back) until a probe command reached every subscriber. */
  recoverMs: number;
  /** How long the fault lasted (process dead, server down, writes failing). */
  faultMs: number;
  /** Non-2xx answers and connection failures the load saw, by status and code. */
  answers?: Record<string, number>;
  notes?: string;
}

const RESULTS = join(__dirname, '..', 'results');

/** Prints the table to stdout (for the closing note) and writes it to test/faults/results/<file>.json. */
export function reportFigures(file: string, figures: FaultFigures[]): string {
  const columns: (keyof FaultFigures)[] = [
    'scenario', 'events', 'commands', 'sent', 'retries', 'rejected', 'subscribers', 'reconnects',
    'lost', 'duplicated', 'gaps', 'subscriberDuplicates', 'mismatched', 'journalDiffs', 'faultMs', 'recoverMs',
  ];
  const rows = figures.map((f) => columns.map((c) => String(f[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  const table = [line(columns as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${file}.json`), `${JSON.stringify({ at: new Date().toISOString(), figures }, null, 2)}\n`);
  process.stdout.write(`\n[faults] ${file}\n${table}\n`);
  return table;
}
