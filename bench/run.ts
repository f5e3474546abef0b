/**
 * One command per benchmark scenario, each against its peer in the same run:
 *
 *   npm run bench -- <scenario> [--smoke] [scenario options]
 *   npm run bench -- all [--smoke]
 *
 * Options are parsed once, here (bench/lib/args.ts): `--name=value` or `--name value`; each
 * scenario declares the ones it reads, and an option none of the run's scenarios declares is refused.
 *
 * Prints a table per scenario, writes bench/results/<scenario>.json (<scenario>.smoke.json with
 * --smoke) and exits 1 if any of our measurements has a gap, duplicate or reorder. Ratios that miss
 * their target are printed, not fatal: timings on a shared machine are figures, not assertions.
 * DATABASE_URL, when set, is the Postgres server the scenarios create their own databases on.
 */
import { BenchArgs, OptionSpec, parseBenchArgs } from './lib/args';
import { integrityFailures, Scenario, ScenarioResult } from './lib/scenario';
import { renderTable, writeResult } from './lib/report';

const SCENARIOS = ['append', 'append-wrk', 'http-adapter', 'hot-stream', 'projection', 'esdb-catch-up', 'e2e-latency', 'fanout', 'resume-storm', 'idle-memory'] as const;
const USAGE = `usage: npm run bench -- <${SCENARIOS.join('|')}|all> [--smoke] [--name=value | --name value ...]\n`;

async function loadScenario(name: string): Promise<Scenario> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(`./scenarios/${name}`) as { default: Scenario };
  return module.default;
}

/** The options of every scenario in the run: with `all`, each reads the ones it declares. */
function commandLine(argv: string[], scenarios: Scenario[]): { smoke: boolean; args: BenchArgs } {
  const options: OptionSpec = { smoke: { type: 'boolean' } };
  for (const scenario of scenarios) Object.assign(options, scenario.options);
  const { positionals, args } = parseBenchArgs(argv, options);
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  return { smoke: args.flag('smoke'), args };
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || (name !== 'all' && !SCENARIOS.includes(name as (typeof SCENARIOS)[number]))) {
    process.stderr.write(USAGE);
    return 2;
  }
  const names = name === 'all' ? [...SCENARIOS] : [name];
  const scenarios = await Promise.all(names.map(loadScenario));
  let smoke: boolean;
  let args: BenchArgs;
  try {
    ({ smoke, args } = commandLine(rest, scenarios));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const results: ScenarioResult[] = [];
  let failed = false;
  for (const [index, scenarioName] of names.entries()) {
    const scenario = scenarios[index];
    process.stderr.write(`\n== ${scenario.name}: ${scenario.description}${smoke ? ' (smoke)' : ''}\n`);
    const result = await scenario.run({ smoke, databaseUrl: process.env.DATABASE_URL, args });
    results.push(result);
    process.stdout.write('\n' + renderTable(result));
    process.stdout.write(`\nwritten: ${writeResult(result, smoke)}\n`);
    const failures = integrityFailures(result);
    if (failures.length > 0) {
      failed = true;
      process.stderr.write(`\nFAIL ${scenarioName}: gaps/duplicates/reorders in ${failures.map((f) => f.variant).join(', ')}\n`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
