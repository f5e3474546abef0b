import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirectoryError, DataDirectoryLock, DataDirectoryOwner, liveOwnerOf, lockPathOf } from '@khala/platform';
import { itOrSkip } from '../support/skips';

/** The ownership lock of an embedded data directory, on real files (the e2e spec runs real processes). */
describe('DataDirectoryLock', () => {
  let root: string;
  let dataDir: string;
  const held: DataDirectoryLock[] = [];
  const acquire = (kind: 'server' | 'cli' = 'server') => {
    const lock = DataDirectoryLock.acquire(dataDir, kind);
    held.push(lock);
    return lock;
  };
  const writeLock = (owner: Partial<DataDirectoryOwner>) =>
    writeFileSync(
      lockPathOf(dataDir),
      JSON.stringify({ kind: 'server', pid: process.pid, hostname: hostname(), processStart: null, acquiredAt: new Date().toISOString(), url: null, ...owner }),
    );
  const refusal = (kind: 'server' | 'cli' = 'server'): DataDirectoryError => {
    try {
      acquire(kind);
    } catch (error) {
      return error as DataDirectoryError;
    }
    throw new Error('acquire did not refuse');
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'khala-lock-'));
    dataDir = join(root, 'pglite');
  });
  afterEach(() => {
    for (const lock of held.splice(0)) lock.release();
    rmSync(root, { recursive: true, force: true });
  });

  it('is exclusive until released, and names the owner and what to do', () => {
    const first = acquire('server');
    first.announce('postgres://postgres@127.0.0.1:5999/postgres');
    const error = refusal('server');
    expect(error).toBeInstanceOf(DataDirectoryError);
    expect(error.code).toBe('data_directory_in_use');
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(error.message).toContain('postgres://postgres@127.0.0.1:5999/postgres');
    expect(error.message).toMatch(/Stop that server first/);
    expect(liveOwnerOf(dataDir)).toMatchObject({ kind: 'server', pid: process.pid, url: 'postgres://postgres@127.0.0.1:5999/postgres' });

    first.release();
    expect(existsSync(lockPathOf(dataDir))).toBe(false);
    expect(liveOwnerOf(dataDir)).toBeUndefined();
    acquire('cli');
    expect(refusal('server').message).toMatch(/in use by an oa command .*Wait for that command to finish/);
  });

  it('takes over the lock of a process that is gone', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    writeLock({ pid });
    expect(liveOwnerOf(dataDir)).toBeUndefined();
    acquire();
    expect(JSON.parse(readFileSync(lockPathOf(dataDir), 'utf8'))).toMatchObject({ pid: process.pid });
  });

  // Process start times come from Linux /proc; elsewhere a live pid counts as the owner.
  const withStartTimes = itOrSkip(existsSync('/proc/self/stat') ? undefined : 'no /proc/self/stat: process start times are read from Linux /proc');

  withStartTimes('takes over a lock whose pid now belongs to another process (pid reuse)', () => {
    writeLock({ pid: process.ppid, processStart: '1' });
    acquire();
    expect(JSON.parse(readFileSync(lockPathOf(dataDir), 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('takes over a lock carrying our own pid that this process does not hold (a restarted container)', () => {
    writeLock({ pid: process.pid });
    acquire();
    expect(liveOwnerOf(dataDir)).toMatchObject({ pid: process.pid });
  });

  it('keeps a live owner: a running process that started when the lock says', () => {
    writeLock({ pid: process.ppid, processStart: startTimeOf(process.ppid) });
    expect(refusal().message).toContain(`pid ${process.ppid}`);
  });

  it('never takes over a lock from another host: it says which file to delete', () => {
    writeLock({ hostname: `not-${hostname()}`, pid: 1 });
    const error = refusal();
    expect(error.code).toBe('data_directory_in_use');
    expect(error.message).toContain(`delete ${lockPathOf(dataDir)}`);
  });

  it('refuses a lock file it cannot read rather than guessing', () => {
    writeFileSync(lockPathOf(dataDir), 'garbage');
    expect(refusal().code).toBe('data_directory_lock_unreadable');
  });

  it('leaves a lock taken over meanwhile to its new owner on release', () => {
    const lock = acquire();
    writeLock({ pid: process.ppid, processStart: null });
    lock.release();
    expect(liveOwnerOf(dataDir)).toMatchObject({ pid: process.ppid });
  });
});

/** Field 22 of /proc/<pid>/stat (the kernel's start time of the process), or null off Linux. */
function startTimeOf(pid: number): string | null {
  if (!existsSync(`/proc/${pid}/stat`)) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}
