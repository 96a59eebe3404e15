// Inter-process locks that die with their owner. Node has no flock(), so a lock is a file created
// with O_EXCL holding "<pid> <start time>"; a lock whose owner is gone (or whose pid was reused, seen
// by a different start time) is stale and is broken by the next taker.
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { TspodError } from '../errors.js';

const POLL_MIN_MS = 5;
const POLL_MAX_MS = 100;

let selfStart: string | undefined;

/** Field 22 of /proc/<pid>/stat: the process start time in clock ticks since boot. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function ownerToken(): string {
  selfStart ??= processStartTime(process.pid) ?? '0';
  return `${process.pid} ${selfStart}\n`;
}

/** True when the "<pid> <start>" token names a process that is still alive. */
export function ownerAlive(token: string): boolean {
  const [pidText, start] = token.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return start === ownerToken().trim().split(' ')[1];
  return processStartTime(pid) === start;
}

export function currentOwnerToken(): string {
  return ownerToken().trim();
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, ownerToken());
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Removes the lock at `path` if its owner is dead. Returns true if it is gone now. */
function breakIfStale(path: string): boolean {
  let token: string;
  try {
    token = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  // A lock file caught between create and write is empty for an instant: treat it as held.
  if (token === '' || ownerAlive(token)) return false;
  // Rename first so two breakers cannot both delete a fresh lock taken in between.
  const grave = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, grave);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  const moved = readFileSync(grave, 'utf8');
  if (moved !== token) {
    // We moved a fresh lock taken between our read and our rename: put it back without
    // clobbering a third one (link fails if the path exists again).
    try {
      linkSync(grave, path);
    } catch {
      /* a newer lock is in place; the moved owner's release tolerates a missing file */
    }
    unlinkSync(grave);
    return false;
  }
  unlinkSync(grave);
  return true;
}

export interface Lock {
  release(): void;
}

const held = new Map<string, number>();

export async function acquire(path: string, opts: { timeoutMs?: number; what?: string } = {}): Promise<Lock> {
  const count = held.get(path);
  if (count !== undefined) {
    // Re-entrant within this process.
    held.set(path, count + 1);
    return { release: () => release(path) };
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
  let wait = POLL_MIN_MS;
  for (;;) {
    if (tryCreate(path)) break;
    if (breakIfStale(path) && tryCreate(path)) break;
    if (Date.now() > deadline) {
      throw new TspodError('storage', `timed out waiting for lock ${opts.what ?? path}`, {
        hint: `Another tspod process holds ${path}; if none is running, remove that file`,
      });
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(POLL_MAX_MS, wait * 2);
  }
  held.set(path, 1);
  return { release: () => release(path) };
}

function release(path: string): void {
  const count = held.get(path) ?? 0;
  if (count > 1) {
    held.set(path, count - 1);
    return;
  }
  held.delete(path);
  try {
    if (readFileSync(path, 'utf8') === ownerToken()) unlinkSync(path);
  } catch {
    /* already removed */
  }
}

export async function withLock<T>(path: string, fn: () => Promise<T> | T, what?: string): Promise<T> {
  const lock = await acquire(path, { what });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
