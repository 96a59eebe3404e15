// Container root filesystems: native overlayfs inside the user namespace (userxattr) when the
// kernel allows it, else fuse-overlayfs, else a vfs copy. The probe runs once per store and its
// answer is remembered in <graphroot>/driver.json.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readJson, writeFileAtomic } from './atomic.js';
import { TspodError } from '../errors.js';
import type { Store } from './store.js';
import { MNT_DETACH, MS_BIND, nativeAddon } from './native.js';

export type Driver = 'overlay' | 'fuse-overlayfs' | 'vfs';

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stderr: String(stderr).trim() });
    });
  });
}

/**
 * mount(2) through the addon when it is loaded, else `fallback` (the same mount by mount(8)).
 * `cwd`: relative lower dirs are resolved against it, as mount(8) does when run there.
 */
async function sysMount(
  m: { source: string; target: string; fstype: string | null; flags: number; data: string | null; cwd?: string },
  fallback: string[],
): Promise<{ code: number; stderr: string }> {
  const addon = nativeAddon();
  if (!addon) return run('mount', fallback, m.cwd);
  const prev = m.cwd ? process.cwd() : undefined;
  try {
    if (m.cwd) process.chdir(m.cwd);
    addon.mount(m.source, m.target, m.fstype, m.flags, m.data);
    return { code: 0, stderr: '' };
  } catch (e) {
    return { code: 32, stderr: (e as Error).message };
  } finally {
    if (prev !== undefined) process.chdir(prev);
  }
}

/** umount2(2) through the addon when it is loaded (lazy: MNT_DETACH), else umount(8). */
async function sysUmount(target: string, lazy: boolean): Promise<{ code: number; stderr: string }> {
  const addon = nativeAddon();
  if (!addon) return run('umount', lazy ? ['-l', target] : [target]);
  try {
    addon.umount(target, lazy ? MNT_DETACH : 0);
    return { code: 0, stderr: '' };
  } catch (e) {
    return { code: 32, stderr: (e as Error).message };
  }
}

export function isMounted(path: string): boolean {
  // statx says it directly; /proc/self/mountinfo lists every mount of the namespace (one per
  // running container and more) and costs about a millisecond to read and scan
  const direct = nativeAddon()?.isMountPoint(path);
  if (direct !== undefined && direct !== null) return direct;
  try {
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    const esc = path.replace(/ /g, '\\040');
    return info.split('\n').some((l) => l.split(' ')[4] === esc);
  } catch {
    return false;
  }
}

/** Tries a real overlay mount in a scratch directory. */
async function probeOverlay(store: Store, rootless: boolean): Promise<boolean> {
  const dir = store.newStaging('probe');
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d));
    const opts = `lowerdir=lower,upperdir=upper,workdir=work${rootless ? ',userxattr' : ''}`;
    const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, 'merged'], dir);
    if (r.code !== 0) return false;
    await run('umount', [join(dir, 'merged')]);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function probeFuse(): Promise<boolean> {
  const r = await run('fuse-overlayfs', ['--version']);
  return r.code === 0 && existsSync('/dev/fuse');
}

/** The storage driver for this store: the user's choice, else the remembered probe, else a new probe. */
export async function storageDriver(store: Store, requested: string | undefined, rootless: boolean): Promise<Driver> {
  if (requested) {
    if (requested !== 'overlay' && requested !== 'fuse-overlayfs' && requested !== 'vfs') {
      throw new TspodError('invalid-argument', `unknown storage driver "${requested}"`, { hint: 'Use overlay, fuse-overlayfs or vfs' });
    }
    return requested;
  }
  const file = join(store.graphRoot, 'driver.json');
  const saved = readJson<{ driver?: Driver }>(file, {});
  if (saved.driver) return saved.driver;
  const driver: Driver = (await probeOverlay(store, rootless)) ? 'overlay' : (await probeFuse()) ? 'fuse-overlayfs' : 'vfs';
  writeFileAtomic(file, JSON.stringify({ driver, probed: new Date().toISOString() }));
  return driver;
}

export interface RootfsLayout {
  /** Layer diff dirs, top first. */
  lowers: string[];
  upper: string;
  work: string;
  merged: string;
  /**
   * fuse-overlayfs `uidmapping`/`gidmapping` values (`containerID:hostID:size:...`, the OCI mapping
   * of a container with a user namespace of its own, e.g. --userns=keep-id). The layers keep the ids
   * of the user's namespace on disk; fuse-overlayfs shows them shifted so that the container sees
   * them as in every other container (the image's root files stay root's), and shifts back what the
   * container writes. Always fuse-overlayfs: native overlay cannot shift ids rootless (an idmapped
   * mount needs privilege over the lower layers' filesystem), and podman copies and chowns instead.
   */
  idmap?: { uid: string; gid: string };
}

/**
 * Mounts a container's root filesystem at layout.merged. Lower dirs are passed relative to the
 * store's overlay directory (the mount runs there) so long layer chains fit in one page of options.
 */
export async function mountRootfs(store: Store, driver: Driver, l: RootfsLayout, rootless: boolean): Promise<void> {
  if (isMounted(l.merged)) return;
  const base = join(store.graphRoot, 'overlay');
  if (l.idmap) {
    if (!(await probeFuse())) {
      throw new TspodError('unsupported', 'a container with a user namespace of its own (--userns=keep-id) needs fuse-overlayfs and /dev/fuse', {
        hint: 'Install fuse-overlayfs (apt-get install fuse-overlayfs), or run without --userns=keep-id',
      });
    }
    driver = 'fuse-overlayfs';
  } else if (driver === 'vfs') {
    // A copy of every layer, bottom first, into the upper dir, done once.
    const marker = join(l.upper, '..', '.vfs-populated');
    if (!existsSync(marker)) {
      const { applyLayersCopy } = await import('./vfs.js');
      await applyLayersCopy([...l.lowers].reverse(), l.upper);
      writeFileAtomic(marker, '');
    }
    const r = await sysMount({ source: l.upper, target: l.merged, fstype: null, flags: MS_BIND, data: null }, ['--bind', l.upper, l.merged]);
    if (r.code !== 0) throw new TspodError('storage', `mounting the root filesystem: ${r.stderr}`);
    return;
  }
  const lower = l.lowers.length ? l.lowers.map((d) => relative(base, d)).join(':') : undefined;
  if (!lower) {
    // overlay needs a lower dir: an empty one for images with no layers
    mkdirSync(join(l.upper, '..', 'empty'), { recursive: true });
  }
  const lowerOpt = lower ?? relative(base, join(l.upper, '..', 'empty'));
  if (driver === 'fuse-overlayfs') {
    const idmap = l.idmap ? `,uidmapping=${l.idmap.uid},gidmapping=${l.idmap.gid}` : '';
    const r = await run('fuse-overlayfs', ['-o', `lowerdir=${lowerOpt},upperdir=${l.upper},workdir=${l.work},squash_to_root=0${idmap}`, l.merged], base);
    if (r.code !== 0) throw new TspodError('storage', `mounting the root filesystem with fuse-overlayfs: ${r.stderr}`);
    return;
  }
  const opts = `lowerdir=${lowerOpt},upperdir=${l.upper},workdir=${l.work}${rootless ? ',userxattr' : ''}`;
  const r = await sysMount({ source: 'overlay', target: l.merged, fstype: 'overlay', flags: 0, data: opts, cwd: base }, ['-t', 'overlay', 'overlay', '-o', opts, l.merged]);
  if (r.code !== 0) {
    throw new TspodError('storage', `mounting the root filesystem (overlay): ${r.stderr}`, {
      hint: 'Try --storage-driver fuse-overlayfs or vfs',
    });
  }
}

/** A plain overlay mount of absolute lower dirs (top first): used for :O volumes. */
export async function mountOverlay(lowers: string[], upper: string, work: string, merged: string, rootless: boolean): Promise<void> {
  if (isMounted(merged)) return;
  const opts = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}${rootless ? ',userxattr' : ''}`;
  const r = await sysMount({ source: 'overlay', target: merged, fstype: 'overlay', flags: 0, data: opts }, ['-t', 'overlay', 'overlay', '-o', opts, merged]);
  if (r.code !== 0) throw new TspodError('storage', `mounting an overlay on ${lowers[0]} (:O): ${r.stderr}`);
}

export async function unmountRootfs(merged: string): Promise<void> {
  if (!isMounted(merged)) return;
  const r = await sysUmount(merged, false);
  if (r.code !== 0 && isMounted(merged)) {
    const lazy = await sysUmount(merged, true);
    if (lazy.code !== 0) throw new TspodError('storage', `unmounting ${merged}: ${r.stderr}`);
  }
}


