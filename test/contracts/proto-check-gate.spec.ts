import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Runs the CI gate itself (scripts/proto-check.sh) on a scratch copy of what it reads, so a broken
// tree can be fed to it without touching the checkout. Slower than the buf-only tests (~8 s: a full
// code generation), so it is one run that breaks three things at once; CI runs the gate on the
// real tree, which is the passing case.
const repo = join(__dirname, '..', '..');

describe('npm run proto:check', () => {
  let scratch: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'khala-proto-check-'));
    cpSync(join(repo, 'proto'), join(scratch, 'proto'), { recursive: true });
    mkdirSync(join(scratch, 'scripts'));
    for (const script of ['proto-check.sh', 'proto-gen.sh']) {
      cpSync(join(repo, 'scripts', script), join(scratch, 'scripts', script));
    }
    cpSync(join(repo, 'libs/contracts/src/generated'), join(scratch, 'libs/contracts/src/generated'), {
      recursive: true,
    });
    symlinkSync(join(repo, 'node_modules'), join(scratch, 'node_modules'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const run = () =>
    spawnSync('bash', [join(scratch, 'scripts', 'proto-check.sh')], { encoding: 'utf8', timeout: 60_000 });

  it('fails, naming each problem, on a lint error and stale generated code', () => {
    const events = join(scratch, 'proto/openagents/runtime/v1/run_events.proto');
    writeFileSync(
      events,
      readFileSync(events, 'utf8').replace('  string thread_id = 5;', '  string threadId = 5;'),
    );
    appendFileSync(join(scratch, 'libs/contracts/src/generated/openagents.d.ts'), '// hand edit\n');

    const result = run();
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('Field name "threadId" should be lower_snake_case');
    expect(result.stdout).toContain('changed name from "thread_id" to "threadId"');
    expect(result.stdout).toContain('-// hand edit');
    expect(result.stderr).toMatch(
      /proto-check FAILED: buf lint\nproto-check FAILED: buf breaking\nproto-check FAILED: generated code is stale/,
    );
  }, 60_000);
});
