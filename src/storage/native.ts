// The Node-API addon build/tspod.node (src/native/addon): mount(2)/umount2(2) without starting
// mount(8)/umount(8), and a mount-point test without reading /proc/self/mountinfo. Optional: when it is missing or fails to load (no Node headers at build time,
// another Node ABI), callers fall back to the external programs, so `available()` is checked first.
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface NativeAddon {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  /** Whether `path` is the root of a mount (statx, symlinks not followed); null: the kernel cannot say. */
  isMountPoint(path: string): boolean | null;
}

/** mount(2) flags used by tspod (linux/mount.h). */
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
/** umount2(2) flag: lazy unmount. */
export const MNT_DETACH = 0x2;

let cached: NativeAddon | null | undefined;

function addonPath(env: NodeJS.ProcessEnv): string {
  if (env.TSPOD_LIBEXEC) return join(env.TSPOD_LIBEXEC, 'tspod.node');
  const root = env.TSPOD_HOME ?? resolve(dirname(process.argv[1] ? realpathSync(process.argv[1]) : process.cwd()), '..');
  return join(root, 'build', 'tspod.node');
}

/** The loaded addon, or null when it is not available (TSPOD_NO_ADDON=1 forces that, for tests). */
export function nativeAddon(env: NodeJS.ProcessEnv = process.env): NativeAddon | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (env.TSPOD_NO_ADDON === '1') return cached;
  try {
    const mod = { exports: {} as NativeAddon };
    process.dlopen(mod, addonPath(env));
    if (typeof mod.exports.mount === 'function' && typeof mod.exports.isMountPoint === 'function') cached = mod.exports;
  } catch {
    /* not built or not loadable here: the callers use mount(8)/umount(8) */
  }
  return cached;
}
