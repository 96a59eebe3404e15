// Paths inside a container's root filesystem, resolved the way the kernel would resolve them after
// pivot_root: symlinks are followed *inside* the root (an absolute target is root-relative, `..`
// stops at the root). Used before config.json is written, so that no mount destination, working
// directory or /etc file lookup can be steered onto the host (runc CVE-2021-30465, CVE-2024-45310,
// the 2025 /dev symlink CVEs). security.md, "Handing a container to the runtime".
//
// All file-system access goes through a RootfsView that the caller implements over an opened root
// (a dirfd walk with O_NOFOLLOW). Every path handed to the view is container-absolute, normalised,
// and has no symlink in any of its parent components: this module resolves them first.
import { posix } from 'node:path';
import { TspodError } from '../errors.js';

export type RootfsEntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface RootfsStat {
  type: RootfsEntryType;
  size?: number;
  mode?: number;
}

export interface RootfsView {
  /** Stats `p` without following a final symlink; `null` when it does not exist. */
  lstat(p: string): RootfsStat | null;
  /** The target of the symlink at `p`, as stored (it is interpreted by resolveInRoot, not by the view). */
  readlink(p: string): string;
  /**
   * The content of the regular file at `p`, or `null` when it does not exist. Must open with
   * O_NOFOLLOW|O_NONBLOCK and check the opened object (a FIFO or device must never block), and throw
   * TspodError('hostile-content') when it is not a regular file or is larger than `maxBytes`.
   */
  readFile(p: string, maxBytes: number): Buffer | null;
  /** Creates the directory `p` (its parent exists and is a real directory); EEXIST may be thrown. */
  mkdir(p: string, mode: number, owner?: { uid: number; gid: number }): void;
}

/** Like the kernel's MAXSYMLINKS. */
export const SYMLINK_BUDGET = 40;

/** Cap for the files tspod parses out of a container (/etc/passwd, /etc/group). */
export const CONTAINER_FILE_MAX = 1 << 20;

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Normalises a container path: must be absolute; `.`/`..`/duplicate slashes are removed lexically
 * (`..` cannot climb above `/`). `what` names the path in the error.
 */
export function normalizeContainerPath(p: string, what = 'path'): string {
  if (typeof p !== 'string' || p === '' || !p.startsWith('/')) {
    throw new TspodError('invalid-argument', `invalid ${what} ${JSON.stringify(p)}: must be an absolute path`);
  }
  if (p.includes('\0')) {
    throw new TspodError('invalid-argument', `invalid ${what} ${JSON.stringify(p)}: contains a NUL byte`);
  }
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Resolves `p` inside the root, one component at a time. Existing symlinks are followed inside the
 * root (at most SYMLINK_BUDGET of them); once a component does not exist, the rest is appended
 * lexically. The result is container-absolute and has no symlink in any existing component.
 */
export function resolveInRoot(view: RootfsView, p: string): string {
  const start = normalizeContainerPath(p);
  const resolved: string[] = [];
  let pending = components(start);
  let links = 0;
  let missing = false;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '..') {
      resolved.pop(); // clamped at the root
      continue;
    }
    if (missing) {
      resolved.push(c);
      continue;
    }
    const cand = `/${[...resolved, c].join('/')}`;
    const st = view.lstat(cand);
    if (st === null) {
      missing = true;
      resolved.push(c);
      continue;
    }
    if (st.type === 'symlink') {
      links += 1;
      if (links > SYMLINK_BUDGET) {
        throw new TspodError('hostile-content', `resolving ${p} in the container: too many levels of symbolic links`);
      }
      const target = view.readlink(cand);
      if (target === '' || target.includes('\0')) {
        throw new TspodError('hostile-content', `resolving ${p} in the container: invalid symlink ${cand}`);
      }
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...components(target), ...pending];
      continue;
    }
    if (st.type !== 'dir' && pending.length > 0) {
      throw new TspodError('invalid-argument', `resolving ${p} in the container: ${cand} is not a directory`);
    }
    resolved.push(c);
  }
  return `/${resolved.join('/')}`;
}

/**
 * Reads a small file of the container (e.g. /etc/passwd) with its path resolved inside the root.
 * Returns null when it does not exist; refuses anything that is not a regular file.
 */
export function readContainerFile(view: RootfsView, p: string, maxBytes = CONTAINER_FILE_MAX): string | null {
  const r = resolveInRoot(view, p);
  const st = view.lstat(r);
  if (st === null) return null;
  if (st.type !== 'file') {
    throw new TspodError('hostile-content', `${p} in the container is not a regular file`);
  }
  const buf = view.readFile(r, maxBytes);
  if (buf === null) return null;
  if (buf.length > maxBytes) {
    throw new TspodError('hostile-content', `${p} in the container is larger than ${maxBytes} bytes`);
  }
  return buf.toString('utf8');
}

const MUST_BE_DIRS = ['/dev', '/proc', '/sys', '/run'];
const MUST_BE_FILES = ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname'];

/**
 * Refuses a root filesystem whose /dev, /proc, /sys, /run, /etc/hosts, /etc/resolv.conf or
 * /etc/hostname is a symlink (or of the wrong kind): the runtime mounts over them.
 */
export function checkRootfs(view: RootfsView): void {
  const refuse = (p: string, why: string): never => {
    throw new TspodError('hostile-content', `container root filesystem: ${p} ${why}; refusing to run it`);
  };
  for (const p of MUST_BE_DIRS) {
    const st = view.lstat(p);
    if (st === null) continue;
    if (st.type === 'symlink') refuse(p, `is a symlink (to ${JSON.stringify(view.readlink(p))})`);
    if (st.type !== 'dir') refuse(p, 'is not a directory');
  }
  const etc = resolveInRoot(view, '/etc');
  const etcSt = view.lstat(etc);
  if (etcSt === null) return;
  if (etcSt.type !== 'dir') refuse('/etc', 'is not a directory');
  for (const p of MUST_BE_FILES) {
    const real = posix.join(etc, posix.basename(p));
    const st = view.lstat(real);
    if (st === null) continue;
    if (st.type === 'symlink') refuse(p, `is a symlink (to ${JSON.stringify(view.readlink(real))})`);
    if (st.type === 'dir') refuse(p, 'is a directory');
  }
}

/**
 * Makes sure the working directory `p` exists, creating missing components inside the root (never
 * through a symlink out of it). Returns the resolved path. A component that turns into a symlink
 * while we work (a racing container) makes us resolve again, a few times at most.
 */
export function ensureWorkdir(
  view: RootfsView,
  p: string,
  owner?: { uid: number; gid: number },
  mode = 0o755,
): string {
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = resolveInRoot(view, p);
    let cur = '';
    let raced = false;
    for (const c of components(r)) {
      cur = `${cur}/${c}`;
      let st = view.lstat(cur);
      if (st === null) {
        try {
          view.mkdir(cur, mode, owner);
        } catch (e) {
          if ((e as NodeJS.ErrnoException)?.code !== 'EEXIST') throw e;
        }
        st = view.lstat(cur);
      }
      if (st === null || st.type === 'symlink') {
        raced = true;
        break;
      }
      if (st.type !== 'dir') {
        throw new TspodError('invalid-argument', `workdir ${p}: ${cur} in the container is not a directory`);
      }
    }
    if (!raced) return r;
  }
  throw new TspodError('hostile-content', `workdir ${p}: the path kept changing while it was being created`);
}
