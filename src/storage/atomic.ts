// Crash-safe metadata writes: temp file in the same directory, fdatasync, rename. A kill -9 at any
// instant leaves either the old or the new content, never a torn file; after a power loss the file
// holds the old or the new content (its data reached the disk before the rename). The directory is
// not fsynced, as in containers/storage's AtomicFileWriter: a rename lost with the power leaves the
// previous content, which is still a consistent store. (Each of the three writes of a `run` paid
// for a directory fsync before.)
import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** Temp names: pid + a per-process counter is unique among live processes ('wx' refuses a leftover). */
let tmpSeq = 0;

export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  let tmp: string;
  let fd: number;
  for (;;) {
    tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${(tmpSeq++).toString(36)}.tmp`);
    try {
      fd = openSync(tmp, 'wx', mode);
      break;
    } catch (e) {
      // a leftover of a killed process that had the same pid: take the next name
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tmpSeq > 1000) throw e;
    }
  }
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fdatasyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads a JSON file, returning `fallback` when it does not exist. */
export function readJson<T>(path: string, fallback: T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw e;
  }
  return JSON.parse(text) as T;
}
