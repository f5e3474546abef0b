/**
 * Running Debian's `wrk` (a C HTTP load generator) from a scenario and reading its report.
 * Scenarios that use it skip, with a note, where it is not installed.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The frame-appending script (one fresh frame_id per request, round-robin over the given runs). */
export const FRAMES_SCRIPT = join(__dirname, '..', 'wrk', 'frames.lua');

export function wrkMissing(): boolean {
  return spawnSync('wrk', ['-v']).error !== undefined;
}

/**
 * One wrk run on one thread (pinned to `cpu` when given): `connections` requests in flight for
 * `seconds`; `scriptArgs` go to the script's init(). Returns wrk's report (stdout).
 */
export function runWrk(options: { url: string; connections: number; seconds: number; script: string; scriptArgs: string[]; cpu?: string }): string {
  const argv = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-s', options.script, options.url, '--', ...options.scriptArgs];
  const [command, commandArgs] = options.cpu !== undefined ? ['taskset', ['-c', options.cpu, 'wrk', ...argv]] : ['wrk', argv];
  const result = spawnSync(command, commandArgs, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  return result.stdout;
}

/** wrk's latency column ("1.23ms", "456.00us", "1.20s") in ms. */
function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!match) return NaN;
  const amount = Number(match[1]);
  return match[2] === 'us' ? amount / 1000 : match[2] === 's' ? amount * 1000 : amount;
}

/** requests/s, latency percentiles and errors (non-2xx/3xx answers and timeouts) from a --latency report. */
export function parseWrk(output: string): { requests_per_s: number; requests: number; p50_ms: number; p90_ms: number; p99_ms: number; errors: number } {
  const figure = (pattern: RegExp) => pattern.exec(output)?.[1];
  return {
    requests_per_s: Number(figure(/Requests\/sec:\s+([\d.]+)/)),
    requests: Number(figure(/(\d+) requests in/)),
    p50_ms: toMs(figure(/\s50%\s+(\S+)/) ?? ''),
    p90_ms: toMs(figure(/\s90%\s+(\S+)/) ?? ''),
    p99_ms: toMs(figure(/\s99%\s+(\S+)/) ?? ''),
    errors: Number(figure(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0) + Number(figure(/Socket errors:.*timeout (\d+)/) ?? 0),
  };
}
