/**
 * The one way a suite or test is left out of a run: a real jest skip (reported as skipped, never a
 * passing placeholder) that prints why, so a reader of the run's output sees what did not run.
 * `skipReason` undefined means it runs.
 */
export type SuiteDefinition = (name: string, fn: () => void) => void;
export type TestDefinition = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

/** Inside a skipped suite its reason is already printed; what it contains skips without a word. */
let definingSkippedSuite = 0;

// Straight to stderr: jest shows no console output of a test file whose every test is skipped.
function printSkip(name: string, skipReason: string): void {
  if (definingSkippedSuite === 0) process.stderr.write(`skipped: ${name} — ${skipReason}\n`);
}

export function describeOrSkip(skipReason: string | undefined): SuiteDefinition {
  return (name, fn) => {
    if (skipReason === undefined) return describe(name, fn);
    printSkip(name, skipReason);
    describe.skip(name, () => {
      definingSkippedSuite++;
      try {
        fn();
      } finally {
        definingSkippedSuite--;
      }
    });
  };
}

export function itOrSkip(skipReason: string | undefined): TestDefinition {
  return (name, fn, timeout) => {
    if (skipReason === undefined) return it(name, fn, timeout);
    printSkip(name, skipReason);
    it.skip(name, fn, timeout);
  };
}
