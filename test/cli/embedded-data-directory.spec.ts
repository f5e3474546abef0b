import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirectoryLock } from '@khala/platform';
import { testDatabaseUrl } from '../support/test-database';
import { oaOn } from '../platform/support/embedded-server';

/**
 * How `oa` without DATABASE_URL picks its database when DATA_DIR/pglite is owned: through the
 * owning server's address, or not at all while another oa command has it. The owner here is this
 * test process holding the lock as a server or a CLI would (the e2e spec runs a real server).
 */
describe('oa on an embedded data directory someone owns', () => {
  let dataDir: string;
  let lock: DataDirectoryLock | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'khala-oa-'));
  });
  afterEach(() => {
    lock?.release();
    lock = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('works through the address a running server announced, and says so on stderr', async () => {
    lock = DataDirectoryLock.acquire(join(dataDir, 'pglite'), 'server');
    lock.announce(testDatabaseUrl());
    const result = await oaOn(dataDir, ['--json', 'migrate', 'status']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ pending: [] });
    expect(result.stderr).toContain(`owned by the running Khala server (pid ${process.pid})`);
  });

  it('refuses while another oa command owns the directory, saying what to do', async () => {
    lock = DataDirectoryLock.acquire(join(dataDir, 'pglite'), 'cli');
    const result = await oaOn(dataDir, ['migrate', 'status']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`in use by an oa command \\(pid ${process.pid}.*Wait for that command to finish`));
    expect(result.stdout).toBe('');
  });

  it('opens a free directory itself and gives it up when done', async () => {
    const result = await oaOn(dataDir, ['--json', 'migrate', 'up']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).applied.length).toBeGreaterThan(0);
    // Given up: a server (here: this process) can take it now.
    lock = DataDirectoryLock.acquire(join(dataDir, 'pglite'), 'server');
  });
});
