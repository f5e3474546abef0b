import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PostgresEventStore } from '@khala/eventstore';
import { Database } from '@khala/platform';
import { Progress } from '../../apps/cli/src/progress';
import { connectTestDatabase } from '../support/test-database';
import { event, isolatedCategories } from '../projections/support/projection-fixtures';
import { oa } from './support/oa';

const rootVersion = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;

describe('oa output conventions: --version, data-only stdout, exit codes in help, honest progress', () => {
  let db: Database;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await connectTestDatabase({ max: 2 });
    store = new PostgresEventStore(db);
  });
  afterAll(() => db.close());

  it('--version prints the root package version and exits 0; --help documents the exit codes', async () => {
    for (const flag of ['--version', '-V']) {
      const version = await oa([flag]);
      expect(version).toEqual({ code: 0, stdout: `${rootVersion}\n`, stderr: '' });
    }
    const help = await oa(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes[\s\S]*0 +done[\s\S]*1 +the command failed[\s\S]*2 +done, and something needs an operator[\s\S]*3 +a rebuild stopped/);
  });

  async function seed(): Promise<string> {
    const categories = isolatedCategories();
    for (let s = 0; s < 3; s++) {
      await store.append(categories.runStream(`r${s}`), Array.from({ length: 4 }, (_, i) => event('Tick', { i })), {
        expectedRevision: 'no_stream',
      });
    }
    return categories.run;
  }

  it.each([[[]], [['--json']]])('events export --out - %j: stdout is only the ndjson, the summary and progress go to stderr', async (flags) => {
    const category = await seed();
    const result = await oa([...flags, 'events', 'export', '--all', '--category', category, '--out', '-']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ type: 'Tick', stream: expect.stringMatching(new RegExp(`^${category}-`)) });
    expect(result.stdout).not.toContain('exported');
    const stderr = result.stderr.trim().split('\n');
    if (flags.length) expect(stderr.map((line) => JSON.parse(line) as unknown)).toContainEqual({ exported: 12, out: '-' });
    else expect(stderr).toContain('exported 12 events to stdout');
  });

  it('events export --format csv --out -: the header and one row per event, nothing else', async () => {
    const category = await seed();
    const result = await oa(['events', 'export', '--all', '--category', category, '--format', 'csv', '--out', '-']);
    expect(result.code).toBe(0);
    const rows = result.stdout.trimEnd().split('\n');
    expect(rows[0]).toBe('position,stream,revision,type,id,created,correlation_id,data');
    expect(rows.slice(1)).toHaveLength(12);
    for (const row of rows.slice(1)) expect(row).toMatch(new RegExp(`^\\d+/\\d+,${category}-r\\d,\\d,Tick,`));
    expect(result.stderr).toContain('exported 12 events to stdout');
  });

  it('state of a stream that does not exist: exit 1, the message on stderr, nothing on stdout', async () => {
    const missing = await oa(['state', `run-missing-${Date.now()}`]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/run-missing-\d+ not found/);
  });

  it('bad arguments exit 1 with the message on stderr', async () => {
    const unknown = await oa(['projections', 'failures', '--status', 'bogus']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('bogus');
  });
});

describe('Progress', () => {
  function lines(stream: PassThrough): { done: number; total: number | null; finished: boolean }[] {
    const text = (stream.read() as Buffer | null)?.toString() ?? '';
    return text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { done: number; total: number | null; finished: boolean });
  }

  it('grows its total to what it has seen: events appended after the count never put done past total', () => {
    const out = new PassThrough();
    // Counted 5 at the start; the work then saw 9 (a rebuild reads on to the moving head).
    const progress = new Progress('rebuild test', 5, false, out);
    progress.tick(4);
    progress.tick(5);
    progress.finish();
    const written = lines(out);
    for (const line of written) expect(line.done).toBeLessThanOrEqual(line.total!);
    expect(written[written.length - 1]).toMatchObject({ done: 9, total: 9, finished: true });
  });

  it('keeps the counted total while the work stays within it, and reports no total when none was counted', () => {
    const out = new PassThrough();
    const within = new Progress('export', 10, false, out);
    within.tick(3);
    within.finish();
    expect(lines(out).pop()).toMatchObject({ done: 3, total: 10, finished: true });
    const unknown = new Progress('export', undefined, false, out);
    unknown.tick(7);
    unknown.finish();
    expect(lines(out).pop()).toMatchObject({ done: 7, total: null, finished: true });
  });
});
