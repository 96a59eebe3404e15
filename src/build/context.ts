// COPY/ADD sources: the build context (or another stage's root), .containerignore/.dockerignore,
// globs, and staging. Every source path is resolved inside its own root (symlinks interpreted
// there, clamped at it), and the walk never follows a symlink, so the context cannot make us read
// host files outside it (buildah CVE-2024-1753). Staged copies are hashed for the cache key.
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants as fsc, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, symlinkSync, writeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TspodError } from '../errors.js';
import { resolveInRoot } from '../runtime/confine.js';
import { viewOf } from '../engine/lifecycle.js';

export interface Ignore {
  patterns: Array<{ re: RegExp; negate: boolean }>;
}

function globToRe(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          re += '(?:.*/)?';
          i++;
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Reads .containerignore (preferred) or .dockerignore at the context root. */
export function loadIgnore(contextDir: string, text?: string): Ignore {
  if (text === undefined) {
    for (const n of ['.containerignore', '.dockerignore']) {
      const p = join(contextDir, n);
      if (existsSync(p) && lstatSync(p).isFile()) {
        text = readFileSync(p, 'utf8');
        break;
      }
    }
  }
  const patterns: Ignore['patterns'] = [];
  for (let line of (text ?? '').split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    const clean = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (!clean || clean === '.') continue;
    patterns.push({ re: new RegExp(`^${globToRe(clean)}(?:/.*)?$`), negate });
  }
  return { patterns };
}

/** True when `rel` (context-relative, no leading slash) is excluded. */
export function ignored(ig: Ignore, rel: string): boolean {
  let out = false;
  for (const p of ig.patterns) if (p.re.test(rel)) out = !p.negate;
  return out;
}

/** Context-relative paths matching a glob source (files and directories, not ignored). */
export function expandGlob(root: string, pattern: string, ig: Ignore | undefined): string[] {
  const clean = posix.normalize(pattern).replace(/^\/+/, '');
  const re = new RegExp(`^${globToRe(clean)}$`);
  const out: string[] = [];
  const rec = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (ig && ignored(ig, r)) continue;
      if (re.test(r)) out.push(r);
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) rec(r);
    }
  };
  rec('');
  return out;
}

/** Resolves a source inside its root; returns the root-relative resolved path (no symlinks). */
export function resolveSource(root: string, src: string): string {
  const resolved = resolveInRoot(viewOf(root), posix.normalize(`/${src}`));
  return resolved.replace(/^\/+/, '');
}

export interface StageOptions {
  chmod?: number;
  ig?: Ignore;
  hash: ReturnType<typeof createHash>;
}

/**
 * Copies root/rel to dest (a path in our private staging), never following symlinks. Entries
 * excluded by the ignore file are skipped. Returns false when nothing was there.
 */
export function stageCopy(root: string, rel: string, dest: string, o: StageOptions): void {
  const src = rel ? join(root, rel) : root;
  const st = lstatSync(src);
  const mode = o.chmod ?? st.mode & 0o7777;
  o.hash.update(`${rel}\0${st.mode}\0`);
  if (st.isDirectory()) {
    mkdirSync(dest, { mode: 0o700 });
    for (const n of readdirSync(src).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (o.ig && ignored(o.ig, r)) continue;
      stageCopy(root, r, join(dest, n), o);
    }
    chmodSync(dest, mode);
  } else if (st.isSymbolicLink()) {
    const t = readlinkSync(src);
    o.hash.update(`link:${t}\0`);
    symlinkSync(t, dest);
  } else if (st.isFile()) {
    // O_NOFOLLOW: a file swapped for a symlink after the lstat is refused, not followed.
    const fd = openSync(src, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    const out = openSync(dest, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        o.hash.update(buf.subarray(0, n));
        let off = 0;
        while (off < n) off += writeSync(out, buf, off, n - off);
      }
    } finally {
      closeSync(fd);
      closeSync(out);
    }
    chmodSync(dest, mode);
  }
  // sockets, devices, fifos: skipped (as buildah does for the context)
}

export function notInContext(file: string, line: number, ins: string, src: string): TspodError {
  return new TspodError('invalid-argument', `${file}:${line}: ${ins}: checking on sources under the build context: "${src}": no such file or directory`);
}

/** Is the file a tar archive (plain, gzip, zstd, bzip2, xz)? ADD unpacks those. */
export function isArchive(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(512);
    const n = readSync(fd, b, 0, 512, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
    if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return true;
    if (n >= 262 && b.toString('latin1', 257, 262) === 'ustar') return true;
    return false;
  } finally {
    closeSync(fd);
  }
}
