// File-system work inside a container root that may be running (and hostile) while we work: every
// path is resolved with resolveInRoot (symlinks interpreted inside the root), then opened one
// component at a time through /proc/self/fd/<dirfd>/<name> with O_NOFOLLOW, so a component swapped
// for a symlink between the check and the use fails the operation instead of leading out of the root
// (CVE-2018-15664). Entries are created, replaced and removed relative to a pinned parent directory,
// never through a final symlink. security.md, "Unpacking layers" and "Handing a container to the runtime".
import {
  closeSync, constants as fsc, fchmodSync, fchownSync, futimesSync, lchownSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readSync, readdirSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { readRegularFileNoFollow } from '../util/safe-read.js';
import type { RootfsStat, RootfsView } from '../runtime/confine.js';

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

/** A name inside a pinned directory. */
export function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Opens the directory `p` (container-absolute, already resolved: no symlink in it) relative to the
 * root fd, one no-follow component at a time. A symlink met on the way means the container changed
 * the path under us: refused.
 */
export function openDirIn(rootFd: number, p: string): number {
  let fd = openSync(at(rootFd, '.'), DIR_FLAGS);
  try {
    for (const c of components(p)) {
      if (c === '..') throw new TspodError('hostile-content', `unexpected ".." in resolved path ${p}`);
      let next: number;
      try {
        next = openSync(at(fd, c), DIR_FLAGS);
      } catch (e) {
        if (code(e) === 'ELOOP') throw new TspodError('hostile-content', `${p} in the container changed while it was being used (a symlink appeared at ${c})`);
        throw e;
      }
      closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function parentAndName(p: string): { parent: string; name: string } {
  const cs = components(p);
  const name = cs.pop();
  return { parent: `/${cs.join('/')}`, name: name ?? '.' };
}

function toRootfsStat(st: Stats): RootfsStat {
  const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  return { type, size: st.size, mode: st.mode };
}

/** A RootfsView over a root directory fd; safe against a running container (see top). */
export function fdView(rootFd: number): RootfsView {
  const withParent = <T>(p: string, fn: (dirFd: number, name: string) => T, missing: T): T => {
    const { parent, name } = parentAndName(p);
    let dirFd: number;
    try {
      dirFd = openDirIn(rootFd, parent);
    } catch (e) {
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return missing;
      throw e;
    }
    try {
      return fn(dirFd, name);
    } finally {
      closeSync(dirFd);
    }
  };
  return {
    lstat(p: string): RootfsStat | null {
      return withParent(
        p,
        (d, n) => {
          try {
            return toRootfsStat(lstatSync(at(d, n)));
          } catch (e) {
            if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return null;
            throw e;
          }
        },
        null,
      );
    },
    readlink(p: string): string {
      return withParent(p, (d, n) => readlinkSync(at(d, n)), '');
    },
    readFile(p: string, max: number): Buffer | null {
      return withParent(
        p,
        (d, n) => readRegularFileNoFollow(at(d, n), p, max),
        null,
      );
    },
    mkdir(p: string, mode: number): void {
      withParent(p, (d, n) => mkdirSync(at(d, n), { mode }), undefined);
    },
  };
}

/** Removes `name` in the pinned directory, recursively, never following a symlink. */
export function removeAt(dirFd: number, name: string): void {
  const st = lstatSync(at(dirFd, name));
  if (!st.isDirectory()) {
    unlinkSync(at(dirFd, name));
    return;
  }
  const fd = openSync(at(dirFd, name), DIR_FLAGS);
  try {
    for (const child of readdirSync(at(fd, '.'))) removeAt(fd, child);
  } finally {
    closeSync(fd);
  }
  rmdirSync(at(dirFd, name));
}

export interface CopyOptions {
  /** Owner for every copied entry (podman's --archive); undefined keeps the source's. */
  owner?: { uid: number; gid: number };
  /** Replace a directory with a non-directory and vice versa. */
  overwrite: boolean;
  /** Container-side path of dirFd, for messages. */
  where: string;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    throw e;
  }
}

function copyData(src: string, dstFd: number): void {
  const sfd = openSync(src, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(sfd, buf, 0, buf.length, null);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += writeSync(dstFd, buf, off, n - off);
    }
  } finally {
    closeSync(sfd);
  }
}

/**
 * Copies `src` (a trusted staging tree nobody else can reach) to `name` inside the pinned directory
 * `dirFd` of a container. Existing directories are merged; existing non-directories are replaced
 * (unlinked first, so a symlink planted there is replaced, never written through).
 */
export function copyInto(src: string, dirFd: number, name: string, opts: CopyOptions): void {
  const st = lstatSync(src);
  const dst = at(dirFd, name);
  const where = `${opts.where === '/' ? '' : opts.where}/${name}`;
  const owner = opts.owner ?? { uid: st.uid, gid: st.gid };
  let existing = lstatOrNull(dst);
  if (existing && st.isDirectory() !== existing.isDirectory()) {
    if (!opts.overwrite) {
      throw new TspodError(
        'invalid-argument',
        st.isDirectory()
          ? `cannot overwrite non-directory "${where}" with a directory: use --overwrite`
          : `cannot overwrite directory "${where}" with a non-directory: use --overwrite`,
      );
    }
    removeAt(dirFd, name);
    existing = null;
  }
  if (st.isDirectory()) {
    if (!existing) mkdirSync(dst, { mode: 0o700 });
    let fd: number;
    try {
      fd = openSync(dst, DIR_FLAGS);
    } catch (e) {
      if (code(e) === 'ELOOP' || code(e) === 'ENOTDIR') throw new TspodError('hostile-content', `"${where}" in the container changed while it was being copied to`);
      throw e;
    }
    try {
      for (const child of readdirSync(src)) copyInto(join(src, child), fd, child, { ...opts, where });
      fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, st.mode & 0o7777);
      futimesSync(fd, st.atime, st.mtime);
    } finally {
      closeSync(fd);
    }
    return;
  }
  if (existing) unlinkSync(dst);
  if (st.isFile()) {
    const fd = openSync(dst, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      copyData(src, fd);
      fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, st.mode & 0o7777); // after chown, which clears setuid
      futimesSync(fd, st.atime, st.mtime);
    } finally {
      closeSync(fd);
    }
    return;
  }
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isFIFO()) {
    // mkfifo(1) from the host; mknod never follows a final symlink (EEXIST).
    execFileSync('mkfifo', ['-m', (st.mode & 0o7777).toString(8), '--', `/proc/${process.pid}/fd/${dirFd}/${name}`]);
  } else {
    return; // devices and sockets cannot be made rootless: skipped, as when unpacking layers
  }
  lchownSync(dst, owner.uid, owner.gid);
  lutimesSync(dst, st.atime, st.mtime);
}
