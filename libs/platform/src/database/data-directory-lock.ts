import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DomainError } from '../errors/domain-error';

/** What holds an embedded data directory: a server (serves it to others) or a one-off `oa` command. */
export type DataDirectoryOwnerKind = 'server' | 'cli';

/** The content of the lock file: who owns the directory and where it serves it. */
export interface DataDirectoryOwner {
  kind: DataDirectoryOwnerKind;
  pid: number;
  hostname: string;
  /**
   * The process's start time as the kernel reports it (Linux /proc/<pid>/stat), or null where
   * unknown: a pid alone may have been reused by an unrelated process since the owner died.
   */
  processStart: string | null;
  acquiredAt: string;
  /** The Postgres URL the owner serves the directory's PGlite on, once it does. */
  url: string | null;
}

export type DataDirectoryErrorCode = 'data_directory_in_use' | 'data_directory_lock_unreadable';

export class DataDirectoryError extends DomainError {
  readonly kind = 'conflict' as const;

  constructor(
    readonly code: DataDirectoryErrorCode,
    message: string,
    readonly owner?: DataDirectoryOwner,
  ) {
    super(message, owner);
  }
}

/** `<dir>.lock` beside the directory, not inside it: PGlite initialises an empty directory itself. */
export function lockPathOf(dataDir: string): string {
  return `${resolve(dataDir)}.lock`;
}

/**
 * The live owner of `dataDir`, or undefined when nobody holds it (no lock file, or the process
 * that wrote it is gone). Throws when the lock file cannot be read as a lock.
 */
export function liveOwnerOf(dataDir: string): DataDirectoryOwner | undefined {
  const lockPath = lockPathOf(dataDir);
  const content = readIfPresent(lockPath);
  if (content === undefined) return undefined;
  const owner = parseOwner(content, lockPath);
  return isAlive(owner, content) ? owner : undefined;
}

/**
 * Exclusive ownership of one embedded data directory, taken before PGlite opens it: two processes
 * with the same PGlite files open each keep their own state in memory and write it back, so one
 * silently undoes the other's acknowledged writes. The lock file appears with its whole content
 * at once (written aside, then hard-linked into place, which fails if it exists); a lock whose
 * process is gone (crash, kill -9) is taken over.
 */
export class DataDirectoryLock {
  private released = false;
  private readonly releaseOnExit = () => this.release();

  private constructor(
    readonly lockPath: string,
    private record: string,
  ) {
    heldHere.add(record);
    // A process that exits without stopping cleanly (an uncaught error) leaves no lock behind.
    process.once('exit', this.releaseOnExit);
  }

  /** Takes `dataDir` for this process, or throws DataDirectoryError naming the live owner. */
  static acquire(dataDir: string, kind: DataDirectoryOwnerKind): DataDirectoryLock {
    const lockPath = lockPathOf(dataDir);
    mkdirSync(dirname(lockPath), { recursive: true });
    const record = JSON.stringify(ownerRecord(kind, null));
    const staged = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(staged, record, { flag: 'wx' });
    try {
      // Each pass either takes the lock, refuses, or clears a stale one; a few passes only when
      // other processes race for the same directory.
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(staged, lockPath);
          return new DataDirectoryLock(lockPath, record);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const existing = readIfPresent(lockPath);
        if (existing === undefined) continue; // released meanwhile
        const owner = parseOwner(existing, lockPath);
        if (isAlive(owner, existing)) throw inUse(dataDir, lockPath, owner, kind);
        clearStaleLock(lockPath, existing);
      }
      throw new DataDirectoryError(
        'data_directory_in_use',
        `${dataDir} is being claimed by several processes at once; try again`,
      );
    } finally {
      unlinkSync(staged);
    }
  }

  /** Records the URL this process serves the directory on, so others work through it. */
  announce(url: string): void {
    if (this.released) return;
    const current = readIfPresent(this.lockPath);
    if (current !== this.record) throw new Error(`lost ownership of ${this.lockPath}`);
    const record = JSON.stringify({ ...(JSON.parse(this.record) as DataDirectoryOwner), url });
    const staged = `${this.lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(staged, record, { flag: 'wx' });
    heldHere.add(record);
    renameSync(staged, this.lockPath);
    heldHere.delete(this.record);
    this.record = record;
  }

  /** Gives the directory up (after PGlite closed it); a lock taken over meanwhile is left alone. */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.releaseOnExit);
    if (readIfPresent(this.lockPath) === this.record) unlinkSync(this.lockPath);
    heldHere.delete(this.record);
  }
}

function ownerRecord(kind: DataDirectoryOwnerKind, url: string | null): DataDirectoryOwner {
  return {
    kind,
    pid: process.pid,
    hostname: hostname(),
    processStart: processStartOf(process.pid),
    acquiredAt: new Date().toISOString(),
    url,
  };
}

/**
 * Moves a stale lock aside and deletes it, unless another process replaced it with a fresh one
 * between our read and the move: then that one is put back (link fails rather than overwrite).
 */
function clearStaleLock(lockPath: string, staleContent: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readIfPresent(aside) !== staleContent) {
    try {
      linkSync(aside, lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  unlinkSync(aside);
}

/** The lock records this process holds right now (its own pid in a lock file is either one of these, or inherited). */
const heldHere = new Set<string>();

/**
 * Whether the lock's process still runs. A lock from another host cannot be checked and counts as
 * live; a pid that runs but started at another time than the owner is a reused pid; our own pid
 * in a lock we do not hold was inherited from a dead owner (a container restarted as pid 1).
 */
function isAlive(owner: DataDirectoryOwner, content: string): boolean {
  if (owner.hostname !== hostname()) return true;
  if (owner.pid === process.pid) return heldHere.has(content);
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const started = processStartOf(owner.pid);
  return owner.processStart === null || started === null || started === owner.processStart;
}

function processStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may contain spaces, so count after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseOwner(content: string, lockPath: string): DataDirectoryOwner {
  try {
    const owner = JSON.parse(content) as DataDirectoryOwner;
    if (typeof owner.pid === 'number' && typeof owner.hostname === 'string') return owner;
  } catch {
    // fall through
  }
  throw new DataDirectoryError(
    'data_directory_lock_unreadable',
    `${lockPath} is not a lock file Khala wrote; if no Khala server or oa command uses this data directory, delete it`,
  );
}

function inUse(
  dataDir: string,
  lockPath: string,
  owner: DataDirectoryOwner,
  wanted: DataDirectoryOwnerKind,
): DataDirectoryError {
  const who = owner.kind === 'server' ? 'a Khala server' : 'an oa command';
  const where = owner.hostname === hostname() ? '' : ` on host ${owner.hostname}`;
  const serving = owner.url ? `, serving it at ${owner.url}` : '';
  const remedy =
    owner.hostname !== hostname()
      ? `If that host no longer runs it, delete ${lockPath}.`
      : owner.kind === 'cli'
        ? 'Wait for that command to finish, then try again.'
        : wanted === 'server'
          ? 'Stop that server first, or start this one with another DATA_DIR (or a DATABASE_URL).'
          : 'Stop that server, or point DATABASE_URL at the address it serves.';
  return new DataDirectoryError(
    'data_directory_in_use',
    `${dataDir} is in use by ${who} (pid ${owner.pid}${where}, since ${owner.acquiredAt}${serving}); ` +
      `one process owns an embedded data directory at a time. ${remedy}`,
    owner,
  );
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
