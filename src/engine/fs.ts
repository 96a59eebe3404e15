// A container's root filesystem outside of running it: mount/umount (with a mount count, so a user's
// mount and the runtime's use do not undo each other), temporary mounts for cp/export/diff, and
// export. The rootfs is an overlay mounted inside the user's mount namespace (every tspod command
// runs in it), so it is only visible to the user inside `tspod unshare`.
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, openSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { TspodError } from '../errors.js';
import { isMounted, mountRootfs, storageDriver, unmountRootfs } from '../storage/mount.js';
import type { ContainerRecord, ContainerStore } from '../storage/containers.js';
import { lookupContainer, monitorAlive, syncStates } from './containers.js';
import { keepIdFuseMappings } from '../runtime/keepid.js';
import { rootlessIds, tarOwnerMapArgs } from './keepid.js';
import type { Engine } from './index.js';

export function mergedDir(cs: ContainerStore, id: string): string {
  return join(cs.dir(id), 'merged');
}

/** Mounts the container's root filesystem (image layers + its writable layer); returns the path. */
export async function mountContainerRootfs(engine: Engine, rec: ContainerRecord): Promise<string> {
  const store = engine.store();
  const cs = engine.containers();
  const img = store.images().find((i) => i.id === rec.imageId);
  if (!img) throw new TspodError('no-such-image', `the image ${rec.imageId.slice(0, 12)} of container ${rec.name} is gone`);
  const driver = await storageDriver(store, engine.ctx.storageDriver, engine.ctx.rootless);
  const dir = cs.dir(rec.id);
  cs.ensureDirs(rec.id);
  const merged = join(dir, 'merged');
  const lowers = img.layers.map((l) => store.layerDiffDir(l)).reverse();
  // Whether it is mounted is read from the mount table (isMounted), never from the record:
  // no metadata write here (a start already records the running state).
  const ids = rec.config.userns?.startsWith('keep-id') ? rootlessIds(engine.ctx) : undefined;
  const idmap = ids ? keepIdFuseMappings(rec.config.userns, ids) : undefined;
  await mountRootfs(store, driver, { lowers, upper: join(dir, 'diff'), work: join(dir, 'work'), merged, idmap }, engine.ctx.rootless);
  return merged;
}

// ---- mount counts --------------------------------------------------------------------------
// Mounts made by `tspod mount` (and temporary ones by cp/export) are counted in the run dir; the
// runtime's use of a running container is not counted (it is implied by the state). A count only
// means something while the rootfs is mounted: a dead namespace or a reboot resets it to 0.

function countFile(cs: ContainerStore, id: string): string {
  return join(cs.runDir(id), 'mountcount');
}

export function userMountCount(cs: ContainerStore, id: string): number {
  if (!isMounted(mergedDir(cs, id))) return 0;
  try {
    const n = Number(readFileSync(countFile(cs, id), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

function setUserMountCount(cs: ContainerStore, id: string, n: number): void {
  if (n <= 0) rmSync(countFile(cs, id), { force: true });
  else writeFileSync(countFile(cs, id), `${n}\n`, { mode: 0o600 });
}

export function isRunning(rec: ContainerRecord): boolean {
  return (rec.state.status === 'running' || rec.state.status === 'paused') && monitorAlive(rec);
}

/** Adds a user reference to the mounted rootfs (mounting it first); returns the merged path. */
async function acquireMount(engine: Engine, rec: ContainerRecord): Promise<string> {
  const cs = engine.containers();
  const lock = await cs.store.lockContainer(rec.id);
  try {
    const count = userMountCount(cs, rec.id);
    const merged = await mountContainerRootfs(engine, rec);
    setUserMountCount(cs, rec.id, count + 1);
    return merged;
  } finally {
    lock.release();
  }
}

/**
 * Drops a user reference; unmounts when none is left and the container does not run. With force,
 * every user reference goes. Returns whether the rootfs is unmounted now.
 */
async function releaseMount(engine: Engine, id: string, force: boolean): Promise<boolean> {
  const cs = engine.containers();
  const lock = await cs.store.lockContainer(id);
  try {
    await syncStates(cs);
    const rec = cs.get(id);
    const merged = mergedDir(cs, id);
    if (!rec || !isMounted(merged)) {
      setUserMountCount(cs, id, 0);
      return true;
    }
    const left = force ? 0 : Math.max(0, userMountCount(cs, id) - 1);
    if (left === 0 && isRunning(rec)) {
      // The runtime still uses it: drop the user's references, keep the mount (podman exits 0 too).
      setUserMountCount(cs, id, 0);
      return false;
    }
    setUserMountCount(cs, id, left);
    if (left > 0) return false;
    await unmountRootfs(merged);
    return true;
  } finally {
    lock.release();
  }
}

/** Runs fn with the container's rootfs mounted (temporarily if needed). */
export async function withMountedRootfs<T>(engine: Engine, rec: ContainerRecord, fn: (merged: string) => Promise<T>): Promise<T> {
  const merged = await acquireMount(engine, rec);
  try {
    return await fn(merged);
  } finally {
    await releaseMount(engine, rec.id, false).catch(() => {});
  }
}

// ---- mount / umount ------------------------------------------------------------------------

function requireUnshare(engine: Engine): void {
  if (engine.ctx.rootless && !engine.ctx.env.CONTAINERS_GRAPHROOT) {
    throw new TspodError('usage', 'cannot run command "tspod mount" in rootless mode, must execute `tspod unshare` first', {
      hint: 'The mount only exists in tspod\'s mount namespace: run "tspod unshare" first, then "tspod mount" inside it',
    });
  }
}

export interface MountedContainer {
  id: string;
  names: string[];
  mountpoint: string;
}

/** `mount CONTAINER...`: mounts each and returns its path. */
export async function mountContainer(engine: Engine, input: string): Promise<string> {
  requireUnshare(engine);
  const rec = lookupContainer(engine.containers(), input);
  return acquireMount(engine, rec);
}

/** `mount` with no arguments: the containers whose rootfs is mounted. */
export async function listMounted(engine: Engine): Promise<MountedContainer[]> {
  requireUnshare(engine);
  const cs = engine.containers();
  return (await syncStates(cs))
    .filter((c) => isMounted(mergedDir(cs, c.id)))
    .map((c) => ({ id: c.id, names: [c.name], mountpoint: mergedDir(cs, c.id) }));
}

/** `umount CONTAINER`: drops one reference (all with force). Returns the container's ID. */
export async function unmountContainer(engine: Engine, input: string, force: boolean): Promise<string> {
  const rec = lookupContainer(engine.containers(), input);
  await releaseMount(engine, rec.id, force);
  return rec.id;
}

/** `umount --all`: every mounted container that is not running; returns the IDs unmounted. */
export async function unmountAll(engine: Engine, force: boolean): Promise<string[]> {
  const cs = engine.containers();
  const out: string[] = [];
  for (const c of await syncStates(cs)) {
    if (!isMounted(mergedDir(cs, c.id))) continue;
    if (isRunning(c) && userMountCount(cs, c.id) === 0) continue;
    if (await releaseMount(engine, c.id, force)) out.push(c.id);
  }
  return out;
}

// ---- export --------------------------------------------------------------------------------

/** Where tar writes: a stream we pipe to, or a file descriptor handed to tar directly. */
export type TarSink = Writable & { fd?: number };

/** The result of a tar child: resolves when it exited (exit 1, "file changed as we read it", is fine). */
export function waitTar(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 8192) err += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('internal', `${what}: running tar: ${e.message}`, { hint: 'Install GNU tar' })));
    child.on('close', (code, sig) => {
      if (code === 0 || code === 1) resolve();
      else reject(new TspodError('storage', `${what}: tar failed (${sig ?? `exit ${code}`})${err ? `: ${err.trim()}` : ''}`));
    });
  });
}

/** Pipes a stream into sink without ending it (stdout stays open), with backpressure. */
export function pipeOut(src: Readable | null | undefined, sink: TarSink): Promise<void> {
  if (!src) return Promise.resolve();
  return new Promise((resolve, reject) => {
    src.on('error', reject);
    sink.on('error', reject);
    src.pipe(sink, { end: false });
    src.on('end', () => resolve());
  });
}

/** The fd path of one of our descriptors, usable by child processes too. */
export function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

/**
 * `export`: a tar of the container's merged filesystem. GNU tar (ours, never the container's) reads
 * from a directory fd pinned on the root; it does not follow symlinks, so nothing outside is read.
 */
export async function exportContainer(engine: Engine, input: string, out: TarSink): Promise<void> {
  const cs = engine.containers();
  await syncStates(cs);
  const rec = lookupContainer(cs, input);
  await withMountedRootfs(engine, rec, async (merged) => {
    const rootFd = openSync(merged, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      // Top-level names, so the members read `bin/...` as podman's do (not `./bin/...`).
      const names = readdirSync(fdPath(rootFd)).sort();
      const idMap = tarOwnerMapArgs(engine.ctx, rec.config.userns, join(cs.dir(rec.id), 'userdata'));
      const args = ['-C', fdPath(rootFd), '--numeric-owner', ...idMap, '--sort=name', '--xattrs', '--xattrs-include=*', '-cf', '-', '--null', '--verbatim-files-from', '-T', '-'];
      const direct = typeof out.fd === 'number';
      const child = spawn('tar', args, { stdio: ['pipe', direct ? out.fd! : 'pipe', 'pipe'] });
      const done = waitTar(child, `exporting container ${rec.name}`);
      child.stdin!.on('error', () => {});
      child.stdin!.end(names.map((n) => `${n}\0`).join(''));
      await Promise.all([done, direct ? Promise.resolve() : pipeOut(child.stdout, out)]);
    } finally {
      closeSync(rootFd);
    }
  });
}
