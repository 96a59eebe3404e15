// Bind/volume options that need work on our side before the runtime sees the mount:
//   :O  an overlay over the source (changes land in the container's own upper dir, the source is
//       untouched), mounted inside the user's mount namespace like the root filesystem;
//   :U  the source is chowned (recursively, never following symlinks) to the container's user.
import { lchownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mountOverlay, unmountRootfs } from './mount.js';

export interface BindInput {
  source: string;
  destination: string;
  options: string[];
}

/** Replaces :O binds by overlay mounts under `dir`; returns the binds the runtime should get. */
export async function applyOverlayVolumes(binds: BindInput[], dir: string, rootless: boolean): Promise<BindInput[]> {
  const out: BindInput[] = [];
  let n = 0;
  for (const b of binds) {
    if (!b.options.includes('O')) {
      out.push(b);
      continue;
    }
    const base = join(dir, `volume-overlay-${n++}`);
    for (const d of ['upper', 'work', 'merged']) mkdirSync(join(base, d), { recursive: true, mode: 0o700 });
    await mountOverlay([b.source], join(base, 'upper'), join(base, 'work'), join(base, 'merged'), rootless);
    out.push({ source: join(base, 'merged'), destination: b.destination, options: b.options.filter((o) => o !== 'O') });
  }
  return out;
}

/** Unmounts what applyOverlayVolumes mounted for a container. */
export async function releaseOverlayVolumes(dir: string): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((d) => d.startsWith('volume-overlay-'));
  } catch {
    return;
  }
  for (const d of names) await unmountRootfs(join(dir, d, 'merged')).catch(() => {});
}

/** :U — chowns every bind source marked with it to uid:gid (as seen in our user namespace). */
export function chownVolumes(binds: BindInput[], uid: number, gid: number): void {
  for (const b of binds) if (b.options.includes('U')) chownTree(b.source, uid, gid);
}

function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  const st = lstatSync(path);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}
