import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// These run the real buf binary (npm @bufbuild/buf, offline) the way scripts/proto-check.sh does.
const repo = join(__dirname, '..', '..');
const buf = join(repo, 'node_modules', '.bin', 'buf');
const baseline = join(repo, 'proto', 'baseline', 'image.binpb');

function runBuf(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(buf, args, { cwd: repo, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('proto contract checks (INV-01)', () => {
  let copy: string;

  beforeEach(() => {
    copy = mkdtempSync(join(tmpdir(), 'khala-proto-'));
    cpSync(join(repo, 'proto'), copy, { recursive: true });
  });
  afterEach(() => rmSync(copy, { recursive: true, force: true }));

  function edit(file: string, from: string, to: string): void {
    const path = join(copy, file);
    const text = readFileSync(path, 'utf8');
    expect(text).toContain(from);
    writeFileSync(path, text.replace(from, to));
  }

  it('buf lint passes on the committed tree', () => {
    const { status, output } = runBuf(['lint', 'proto']);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('the committed tree has no breaking change against the baseline', () => {
    expect(runBuf(['breaking', 'proto', '--against', baseline])).toEqual({ status: 0, output: '' });
  });

  it('buf breaking fails when a field changes type', () => {
    edit('openagents/sync/v1/frames.proto', '  double watermark = 2;', '  string watermark = 2;');
    const { status, output } = runBuf(['breaking', copy, '--against', baseline]);
    expect(status).not.toBe(0);
    expect(output).toMatch(/"watermark" on message "TopicWatermark" changed type from "double" to "string"/);
  });

  it('buf breaking fails when a field is renumbered away (deleted)', () => {
    edit('openagents/runtime/v1/run_events.proto', '  string thread_id = 5;', '  string thread_id = 7;');
    const { status, output } = runBuf(['breaking', copy, '--against', baseline]);
    expect(status).not.toBe(0);
    expect(output).toContain('RunCreated');
  });

  it('buf breaking accepts an added field', () => {
    edit(
      'openagents/runtime/v1/run_events.proto',
      '  string thread_id = 5;',
      '  string thread_id = 5;\n  string note = 99;',
    );
    expect(runBuf(['breaking', copy, '--against', baseline])).toEqual({ status: 0, output: '' });
  });
});
