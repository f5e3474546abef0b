/**
 * One exit-code rule for every `oa` command, so a script or a cron check can branch on it:
 * 0 the command did its work and there is nothing to report; 1 the command itself failed (bad
 * arguments, unknown names, unreachable database, nothing found); 2 the command worked and found
 * something that needs an operator (parked failures, a paused projection, schema drift); 3 a
 * rebuild stopped before its swap (Ctrl-C, --stop-after-batches): run it again to resume.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  attention: 2,
  interrupted: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The rule as `oa --help` prints it (the README's CLI section says the same). */
export const EXIT_CODES_HELP = `
Exit codes (every command):
  0  done, nothing needs attention
  1  the command failed: bad arguments, unknown name, database unreachable, nothing found
  2  done, and something needs an operator: parked failures, a paused projection, schema drift
  3  a rebuild stopped before its swap (interrupted): run the same command again to resume

With --out -, stdout carries only the data; progress and summaries go to stderr.`;
