// `cp`: copies between a container and the host (or stdin/stdout tar streams, or two containers).
//
// Everything in between is a tar stream. Out of a container, GNU tar (the host's, never the
// container's: docker CVE-2019-14271) reads from a directory fd pinned on the resolved parent and
// does not follow symlinks. Into anything, the stream goes through tspod-extract (hostile-input
// safe) into an empty staging directory first; from there entries are renamed into the host
// destination, or copied into the container relative to pinned directory fds (fs-walk.ts), so a
// running container swapping a path for a symlink cannot steer a write out of its root
// (CVE-2018-15664).
import { spawn } from 'node:child_process';
import { randomBytes } from '../util/random.js';
import { closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, posix, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { TspodError } from '../errors.js';
import { resolveInRoot } from '../runtime/confine.js';
import { resolveUser } from '../runtime/user.js';
import type { ContainerRecord } from '../storage/containers.js';
import { findContainer, syncStates } from './containers.js';
import { helperPath } from './context.js';
import { fdPath, pipeOut, waitTar, withMountedRootfs, type TarSink } from './fs.js';
import { containerToNamespaceIds, rootlessIds, tarOwnerMapArgs } from './keepid.js';
import { keepIdIds } from '../runtime/keepid.js';
import { at, copyInto, fdView, openDirIn, removeAt } from './fs-walk.js';
import type { Engine } from './index.js';

export type CpLocation = { kind: 'stdio' } | { kind: 'host'; path: string } | { kind: 'container'; container: string; path: string };

export interface CpOptions {
  /** Chown copied files to the destination container's user (podman's default). */
  archive: boolean;
  overwrite: boolean;
  stdin: Readable & { fd?: number };
  stdout: TarSink;
}

/** `CONTAINER:PATH`, `-`, or a host path (one starting with `/` or `.`, or without a colon). */
export function parseCpLocation(s: string): CpLocation {
  if (s === '-') return { kind: 'stdio' };
  if (s.startsWith('/') || s.startsWith('.')) return { kind: 'host', path: s };
  const i = s.indexOf(':');
  if (i < 0) return { kind: 'host', path: s };
  if (i === 0) throw new TspodError('invalid-argument', 'name or ID cannot be empty');
  return { kind: 'container', container: s.slice(0, i), path: s.slice(i + 1) };
}

/** A tar stream being produced, and what it holds. */
interface TarSource {
  stream: Readable;
  /** The single top-level name in it; undefined: a tar to merge into the destination directory. */
  name?: string;
  isDir: boolean;
  done: Promise<void>;
}

function notFound(path: string, where: string): TspodError {
  return new TspodError('invalid-argument', `"${path}" could not be found on ${where}: no such file or directory`);
}

function findCtr(engine: Engine, input: string): ContainerRecord {
  const rec = findContainer(engine.containers().list(), input);
  if (!rec) throw new TspodError('no-such-container', `container "${input}" does not exist`);
  return rec;
}

/** A container path as podman takes it: relative paths are relative to the root. */
function ctrPath(p: string): string {
  return p.startsWith('/') ? p : `/${p}`;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

function tar(args: string[], what: string): { child: ReturnType<typeof spawn>; done: Promise<void> } {
  const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = waitTar(child, what);
  done.catch(() => {}); // awaited by the consumer; a destination error may abandon it
  return { child, done };
}

/**
 * Starts a tar of PATH inside a mounted container root. The path is resolved inside the root
 * (symlinks, the final one too, are the container's); tar runs from the pinned parent directory.
 */
function tarFromContainer(rootFd: number, rec: ContainerRecord, path: string, forHost: boolean, idMap: string[]): TarSource & { close: () => void } {
  const p = ctrPath(path);
  const view = fdView(rootFd);
  const resolved = resolveInRoot(view, p);
  const st = view.lstat(resolved);
  if (!st) throw notFound(path, `container ${rec.name}`);
  const contentsOnly = /\/\.$/.test(path);
  const isRoot = resolved === '/';
  const parent = isRoot ? '/' : posix.dirname(resolved);
  const name = isRoot ? '.' : posix.basename(resolved);
  const dirFd = openDirIn(rootFd, contentsOnly || isRoot ? resolved : parent);
  const owner = forHost ? ['--owner=0', '--group=0'] : idMap;
  const member = contentsOnly || isRoot ? '.' : name;
  const args = ['-C', fdPath(dirFd), '--numeric-owner', '--sort=name', '--xattrs', '--xattrs-include=*', ...owner, '-cf', '-', '--', member];
  const t = tar(args, `copying ${path} out of container ${rec.name}`);
  return {
    stream: t.child.stdout!,
    name: contentsOnly || isRoot ? undefined : name,
    isDir: st.type === 'dir',
    done: t.done,
    close: () => closeSync(dirFd),
  };
}

/**
 * podman's volume copy-up: what the image has at a new named volume's mount point is copied into the
 * volume, when that is a directory and the volume is still empty. `merged` is the container's
 * mounted root; the source is read like `cp` reads a container (pinned root, tar of the resolved
 * directory), so nothing outside the root is read and FIFOs are never opened.
 */
export async function copyUpToVolume(engine: Engine, rec: ContainerRecord, merged: string, dest: string, dataDir: string): Promise<void> {
  if (readdirSync(dataDir).length) return;
  const rootFd = openSync(merged, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    const view = fdView(rootFd);
    const resolved = resolveInRoot(view, ctrPath(dest));
    if (resolved === '/' || view.lstat(resolved)?.type !== 'dir') return;
    const src = tarFromContainer(rootFd, rec, `${resolved}/.`, false, []);
    try {
      await extract(engine, src, dataDir, `copying ${dest} of container ${rec.name} into its volume`);
    } finally {
      src.close();
    }
  } finally {
    closeSync(rootFd);
  }
}

/** Runs tspod-extract on the stream into `dest` (an empty directory). */
async function extract(engine: Engine, src: TarSource, dest: string, what: string): Promise<void> {
  const args = engine.ctx.rootless ? ['--rootless', dest] : [dest];
  const child = spawn(helperPath(engine.ctx, 'tspod-extract'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (errText += d.slice(0, 4096)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('internal', `starting tspod-extract: ${e.message}`, { hint: 'Reinstall tspod: the native helpers are missing' })));
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  child.stdin!.on('error', () => {}); // EPIPE: the extractor refused the content; its report says why
  src.stream.on('error', () => child.kill('SIGKILL'));
  src.stream.pipe(child.stdin!);
  const [code] = await Promise.all([exited, src.done]);
  let res: { error?: string; entry?: string } = {};
  try {
    res = JSON.parse(out.trim().split('\n').pop() || '{}') as typeof res;
  } catch {
    /* reported below */
  }
  if (res.error) throw new TspodError('hostile-content', `${what}${res.entry ? `: entry "${res.entry}"` : ''}: ${res.error}`);
  if (code !== 0) throw new TspodError('internal', `${what}: tspod-extract failed (exit ${code})${errText ? `: ${errText.trim()}` : ''}`);
}

/** The single entry a staged tar produced (podman names the copy after the source). */
function stagedEntry(staging: string, src: TarSource): string {
  return src.name === undefined ? staging : join(staging, src.name);
}

/** Moves a staged tree to the host path `dst`, merging into existing directories. */
function placeOnHost(src: string, dst: string, overwrite: boolean): void {
  const st = lstatSync(src);
  const ex = lstatOrNull(dst);
  if (ex && ex.isDirectory() && st.isDirectory()) {
    for (const child of readdirSync(src)) placeOnHost(join(src, child), join(dst, child), overwrite);
    return;
  }
  if (ex && ex.isDirectory() !== st.isDirectory()) {
    if (!overwrite) {
      throw new TspodError('invalid-argument', st.isDirectory() ? `cannot overwrite non-directory "${dst}" with a directory: use --overwrite` : `cannot overwrite directory "${dst}" with a non-directory: use --overwrite`);
    }
    rmSync(dst, { recursive: true, force: true });
  }
  renameSync(src, dst);
}

/** Container → host path. */
async function toHost(engine: Engine, src: () => TarSource, srcPath: string, dest: string, opts: CpOptions): Promise<void> {
  const abs = resolvePath(dest);
  const st = statOrNull(abs);
  if (dest.endsWith('/') && !st?.isDirectory()) throw notFound(dest, 'the host');
  let target: string;
  let contentsInto = false;
  if (st?.isDirectory()) {
    target = abs;
    contentsInto = true;
  } else {
    if (!statOrNull(dirname(abs))?.isDirectory()) throw notFound(dest, 'the host');
    target = abs;
  }
  const source = src();
  if (st && !st.isDirectory() && source.isDir) {
    source.stream.destroy();
    throw new TspodError('invalid-argument', 'destination must be a directory when copying a directory');
  }
  // Staging next to the destination: same file system, so entries are renamed into place.
  const stageParent = contentsInto ? target : dirname(target);
  const staging = join(stageParent, `.tspod-cp-${randomBytes(6).toString('hex')}`);
  mkdirSync(staging, { mode: 0o700 });
  try {
    await extract(engine, source, staging, `copying ${srcPath}`);
    const entry = stagedEntry(staging, source);
    if (contentsInto) {
      if (source.name === undefined) {
        for (const child of readdirSync(entry)) placeOnHost(join(entry, child), join(target, child), opts.overwrite);
      } else placeOnHost(entry, join(target, source.name), opts.overwrite);
    } else if (source.name === undefined) {
      mkdirSync(target, { recursive: false });
      for (const child of readdirSync(entry)) placeOnHost(join(entry, child), join(target, child), opts.overwrite);
    } else placeOnHost(entry, target, opts.overwrite);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Host path → a tar of it (made by us, as the user). */
function tarFromHost(path: string): TarSource {
  const abs = resolvePath(path);
  const st = lstatOrNull(abs);
  if (!st) throw notFound(path, 'the host');
  const contentsOnly = /\/\.$/.test(path) || abs === '/';
  const args = contentsOnly ? ['-C', abs, '--numeric-owner', '-cf', '-', '--', '.'] : ['-C', dirname(abs), '--numeric-owner', '-cf', '-', '--', basename(abs)];
  const t = tar(args, `copying ${path}`);
  return { stream: t.child.stdout!, name: contentsOnly ? undefined : basename(abs), isDir: st.isDirectory(), done: t.done };
}

/** Anything → a path in a container. */
async function toContainer(engine: Engine, rec: ContainerRecord, destPath: string, src: () => TarSource, opts: CpOptions): Promise<void> {
  const store = engine.store();
  await withMountedRootfs(engine, rec, async (merged) => {
    const rootFd = openSync(merged, fsc.O_RDONLY | fsc.O_DIRECTORY);
    const stagingBase = store.newStaging('cp');
    try {
      const view = fdView(rootFd);
      const p = ctrPath(destPath);
      const resolved = resolveInRoot(view, p);
      const st = view.lstat(resolved);
      const where = `container ${rec.name}`;
      if (destPath.endsWith('/') && st?.type !== 'dir') throw notFound(destPath, where);
      let dirPath: string;
      let name: string | undefined;
      if (st?.type === 'dir') {
        dirPath = resolved;
      } else {
        dirPath = posix.dirname(resolved);
        name = posix.basename(resolved);
        if (view.lstat(dirPath)?.type !== 'dir') throw notFound(destPath, where);
      }
      const source = src();
      if (source.name === undefined && name !== undefined && st) {
        source.stream.destroy();
        throw new TspodError('invalid-argument', 'destination must be a directory when copying a directory');
      }
      if (st && st.type !== 'dir' && source.isDir) {
        source.stream.destroy();
        throw new TspodError('invalid-argument', 'destination must be a directory when copying a directory');
      }
      const staging = join(stagingBase, 'root');
      mkdirSync(staging, { mode: 0o700 });
      await extract(engine, source, staging, `copying into container ${rec.name}`);
      // a keep-id container without -u runs as the caller's ids: its files are theirs (as podman)
      const ids = rootlessIds(engine.ctx);
      const keep = ids ? keepIdIds(rec.config.userns, ids) : undefined;
      const user = rec.config.user || (keep ? `${keep.uid}:${keep.gid}` : undefined);
      const owner = opts.archive ? containerToNamespaceIds(engine.ctx, rec.config.userns)(containerOwner(view, user)) : undefined;
      const entry = stagedEntry(staging, source);
      let dirFd: number;
      try {
        dirFd = openDirIn(rootFd, dirPath);
      } catch (e) {
        throw errnoError(e, destPath, rec);
      }
      try {
        const copyOpts = { owner, overwrite: opts.overwrite, where: dirPath };
        if (name !== undefined) {
          // a new name (or a non-directory replaced): the source's content under that name
          if (source.name === undefined) {
            mkdirSync(at(dirFd, name), { mode: 0o755 });
            const sub = openDirIn(rootFd, posix.join(dirPath, name));
            try {
              for (const child of readdirSync(entry)) copyInto(join(entry, child), sub, child, { ...copyOpts, where: posix.join(dirPath, name) });
            } finally {
              closeSync(sub);
            }
          } else copyInto(entry, dirFd, name, copyOpts);
        } else if (source.name === undefined) {
          for (const child of readdirSync(entry)) copyInto(join(entry, child), dirFd, child, copyOpts);
        } else copyInto(entry, dirFd, source.name, copyOpts);
      } catch (e) {
        throw errnoError(e, destPath, rec);
      } finally {
        closeSync(dirFd);
      }
    } finally {
      closeSync(rootFd);
      rmSync(stagingBase, { recursive: true, force: true });
    }
  });
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'a symlink appeared in the path',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EEXIST: 'file exists',
};

/** A system error while writing into a container, without our /proc/self/fd paths in it. */
function errnoError(e: unknown, destPath: string, rec: ContainerRecord): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (e instanceof TspodError || !code) return e;
  return new TspodError('storage', `copying to "${destPath}" in container ${rec.name}: ${ERRNO_TEXT[code] ?? code} (did the path change while it was copied to?)`, { cause: e });
}

/** The uid/gid files copied into a container get with --archive: its user's (root by default). */
function containerOwner(view: ReturnType<typeof fdView>, user: string | undefined): { uid: number; gid: number } {
  try {
    const u = resolveUser(view, { user });
    return { uid: u.uid, gid: u.gid };
  } catch {
    return { uid: 0, gid: 0 };
  }
}

/** Mounts a source container, pins its root and starts the tar; fn consumes it. */
async function fromContainer(engine: Engine, rec: ContainerRecord, path: string, forHost: boolean, fn: (src: () => TarSource) => Promise<void>): Promise<void> {
  await withMountedRootfs(engine, rec, async (merged) => {
    const rootFd = openSync(merged, fsc.O_RDONLY | fsc.O_DIRECTORY);
    let started: (TarSource & { close: () => void }) | undefined;
    try {
      // Resolve (and fail on a missing source) before the destination is touched.
      const probe = fdView(rootFd);
      if (!probe.lstat(resolveInRoot(probe, ctrPath(path)))) throw notFound(path, `container ${rec.name}`);
      const idMap = forHost ? [] : tarOwnerMapArgs(engine.ctx, rec.config.userns, join(engine.containers().dir(rec.id), 'userdata'));
      await fn(() => (started = tarFromContainer(rootFd, rec, path, forHost, idMap)));
    } catch (e) {
      started?.stream.destroy();
      throw e;
    } finally {
      started?.close();
      closeSync(rootFd);
    }
  });
}

export async function copy(engine: Engine, srcArg: string, destArg: string, opts: CpOptions): Promise<void> {
  const src = parseCpLocation(srcArg);
  const dst = parseCpLocation(destArg);
  if (src.kind !== 'container' && dst.kind !== 'container') {
    throw new TspodError('invalid-argument', `invalid arguments ${srcArg}, ${destArg}: you must use just one container`);
  }
  await syncStates(engine.containers());
  if (src.kind === 'container') {
    const rec = findCtr(engine, src.container);
    if (dst.kind === 'stdio') {
      await fromContainer(engine, rec, src.path, false, async (start) => {
        const s = start();
        await Promise.all([s.done, pipeOut(s.stream, opts.stdout)]);
      });
      return;
    }
    if (dst.kind === 'host') {
      await fromContainer(engine, rec, src.path, true, (start) => toHost(engine, start, src.path, dst.path, opts));
      return;
    }
    const drec = findCtr(engine, dst.container);
    await fromContainer(engine, rec, src.path, false, (start) => toContainer(engine, drec, dst.path, start, opts));
    return;
  }
  if (dst.kind !== 'container') throw new TspodError('internal', 'unreachable');
  const drec = findCtr(engine, dst.container);
  if (src.kind === 'stdio') {
    await toContainer(engine, drec, dst.path, () => ({ stream: opts.stdin, name: undefined, isDir: true, done: Promise.resolve() }), opts);
    return;
  }
  await toContainer(engine, drec, dst.path, () => tarFromHost(src.path), opts);
}
