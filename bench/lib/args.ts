import { parseArgs } from 'node:util';

/**
 * The one command-line parser of the benchmarks (`npm run bench -- <scenario> …` and
 * `npm run bench:export -- …`): `--name=value` and `--name value` both work, a flag is `--name`,
 * and an option no scenario of the run declares is an error naming it (a typo never silently
 * falls back to the default size).
 */
export type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

export function parseBenchArgs(argv: string[], options: OptionSpec): { positionals: string[]; args: BenchArgs } {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  return { positionals, args: new BenchArgs(values) };
}

/** Parsed options, each read with the type and bounds its scenario expects. */
export class BenchArgs {
  constructor(private readonly values: Record<string, string | boolean | undefined>) {}

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** A count: a non-negative integer. */
  integer(name: string, fallback: number): number {
    const raw = this.string(name);
    return raw === undefined ? fallback : parseInteger(name, raw);
  }

  /** Comma-separated counts, e.g. `--fanouts=1,100,1000`. */
  integers(name: string, fallback: number[]): number[] {
    const raw = this.string(name);
    return raw === undefined ? fallback : raw.split(',').map((part) => parseInteger(name, part));
  }

  /** A non-negative amount that may be fractional, such as seconds. */
  amount(name: string): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got ${raw}`);
    return value;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!choices.includes(raw as T)) throw new Error(`--${name} must be one of ${choices.join(', ')}, got ${raw}`);
    return raw as T;
  }
}

function parseInteger(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return value;
}
