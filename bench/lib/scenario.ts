import type { BenchArgs, OptionSpec } from './args';

/**
 * What every benchmark scenario returns, so `npm run bench` can print one table, write one JSON
 * file per scenario and fail the run on any integrity violation of ours.
 */
export interface ScenarioOptions {
  /** Seconds-long run for CI: proves the scenario still works, figures are not meaningful. */
  smoke: boolean;
  /** Real Postgres server (DATABASE_URL); scenarios that need one create their own databases on it. */
  databaseUrl?: string;
  /** The command line after the scenario name, parsed against the options the scenario declares. */
  args: BenchArgs;
}

/** Counts that must be zero for this project; a peer's are reported, never fatal. */
export interface Integrity {
  gaps: number;
  duplicates: number;
  reorders: number;
}

export interface Measurement {
  /** Who was measured: 'khala' or a peer name such as 'emmett', 'nats', 'raw-ws'. */
  system: string;
  /** The variant of the scenario, e.g. 'concurrency=32' or 'subscribers=1000'. */
  variant: string;
  /** Absolute figures, named with their unit (events_per_s, p99_ms, rss_mib_per_conn, ...). */
  figures: Record<string, number>;
  integrity: Integrity;
}

export interface Ratio {
  /** What is compared, e.g. 'appends/s at concurrency 32, khala HTTP ÷ emmett raw'. */
  label: string;
  value: number;
  /** The spec's target, e.g. '>= 0.8', and whether the value meets it. */
  target: string;
  met: boolean;
}

export interface ScenarioResult {
  scenario: string;
  machine?: Record<string, unknown>;
  measurements: Measurement[];
  ratios: Ratio[];
  notes?: string[];
}

export interface Scenario {
  name: string;
  description: string;
  /** The options it accepts after its name (`--smoke` is everyone's). */
  options: OptionSpec;
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

export const NO_VIOLATIONS: Integrity = { gaps: 0, duplicates: 0, reorders: 0 };

/** The measurements of ours (system 'khala') with any gap, duplicate or reorder. */
export function integrityFailures(result: ScenarioResult): Measurement[] {
  return result.measurements.filter(
    (m) => m.system === 'khala' && (m.integrity.gaps > 0 || m.integrity.duplicates > 0 || m.integrity.reorders > 0),
  );
}
