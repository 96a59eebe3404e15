// `diff`: what a container's writable layer (or an image's top layer) changes, computed like
// containers/storage's overlay changes (pkg/archive/changes.go): walk the upper directory; a 0/0
// character device is a whiteout (D); an opaque directory over a lower directory is a deletion (D);
// a path no lower layer has is added (A), else changed (C), except directories whose size, mode and
// mtime match the lower one. Parents of added and deleted paths are reported changed.
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { TspodError } from '../errors.js';
import { storageDriver } from '../storage/mount.js';
import { findImage } from './images.js';
import { findContainer } from './containers.js';
import type { Engine } from './index.js';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  kind: ChangeKind;
  path: string;
}

/** Paths the runtime mounts over or creates; podman leaves them out of a container's diff. */
const CONTAINER_SKIP = new Set(['/dev', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/run', '/run/.containerenv', '/run/secrets', '/sys', '/etc/mtab']);

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Directories under `root` marked opaque (user.overlay.opaque or trusted.overlay.opaque = y). */
function opaqueDirs(root: string): Promise<Set<string>> {
  return new Promise((resolve) => {
    execFile(
      'getfattr',
      ['-R', '-P', '--absolute-names', '-m', '^(user|trusted)\\.overlay\\.opaque$', '-d', '--', root],
      { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 120_000 },
      (_err, stdout) => {
        const out = new Set<string>();
        let file: string | undefined;
        for (const line of stdout.toString('latin1').split('\n')) {
          if (line.startsWith('# file: ')) {
            const raw = line.slice(8).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
            file = Buffer.from(raw, 'latin1').toString('utf8');
          } else if (file !== undefined && /^(user|trusted)\.overlay\.opaque="y"$/.test(line)) {
            out.add(file === root ? '/' : file.slice(root.length));
          }
        }
        resolve(out);
      },
    );
  });
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Changes of `upper` over `lowers` (top first), in walk order (names sorted, parents first). */
export async function layerChanges(upper: string, lowers: string[]): Promise<Change[]> {
  const opaque = await opaqueDirs(upper);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const inLower = (p: string): Stats | null => {
    for (const l of lowers) {
      const st = lstatOrNull(join(l, p));
      if (st) return st;
    }
    return null;
  };
  const visit = (p: string, st: Stats): void => {
    const name = posix.basename(p);
    if (posix.dirname(p) === '/' && name.startsWith('.wh..wh.')) return; // AUFS metadata
    let kind: ChangeKind | undefined;
    let path = p;
    if (isWhiteout(st)) kind = 'D';
    else if (name.startsWith('.wh.') && !st.isDirectory()) {
      if (name === '.wh..wh..opq') return;
      kind = 'D'; // a whiteout file (fuse-overlayfs without mknod)
      path = posix.join(posix.dirname(p), name.slice(4));
    } else if (st.isDirectory() && (opaque.has(p) || lstatOrNull(join(upper, p, '.wh..wh..opq'))) && lowers.some((l) => lstatOrNull(join(l, p))?.isDirectory())) {
      kind = 'D';
    } else {
      kind = 'A';
      const low = inLower(p);
      if (low) {
        if (low.isDirectory() && st.isDirectory() && low.size === st.size && low.mode === st.mode && low.mtimeMs === st.mtimeMs) {
          return; // an unchanged directory (still walked: its children may have changed)
        }
        kind = 'C';
      }
    }
    if (st.isDirectory()) changedDirs.add(p);
    if (kind === 'A' || kind === 'D') {
      const parent = posix.dirname(path);
      if (parent !== '/' && !changedDirs.has(parent)) {
        changes.push({ kind: 'C', path: parent });
        changedDirs.add(parent);
      }
    }
    changes.push({ kind, path });
  };
  const walk = (p: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(upper, p)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const cp = p === '/' ? `/${n}` : `${p}/${n}`;
      const st = lstatOrNull(join(upper, cp));
      if (!st) continue;
      visit(cp, st);
      if (st.isDirectory()) walk(cp);
    }
  };
  walk('/');
  return changes;
}

/** `diff CONTAINER|IMAGE`: a container's writable layer, or an image's top layer over its parents. */
export async function diff(engine: Engine, input: string, searchRegistries: string[]): Promise<Change[]> {
  const store = engine.store();
  const driver = await storageDriver(store, engine.ctx.storageDriver, engine.ctx.rootless);
  const rec = findContainer(engine.containers().list(), input);
  if (rec) {
    const img = store.images().find((i) => i.id === rec.imageId);
    if (!img) throw new TspodError('no-such-image', `the image ${rec.imageId.slice(0, 12)} of container ${rec.name} is gone`);
    const upper = join(engine.containers().dir(rec.id), 'diff');
    if (driver === 'vfs' || lstatOrNull(join(engine.containers().dir(rec.id), '.vfs-populated'))) {
      throw new TspodError('unsupported', `diff of container ${rec.name}: not supported with the vfs storage driver`);
    }
    const lowers = img.layers.map((l) => store.layerDiffDir(l)).reverse();
    return (await layerChanges(upper, lowers)).filter((c) => !CONTAINER_SKIP.has(c.path));
  }
  let img;
  try {
    img = findImage(store.images(), input, searchRegistries);
  } catch {
    img = undefined;
  }
  if (!img) throw new TspodError('no-such-layer', `${input} not found: layer not known`);
  const layers = [...img.layers];
  const top = layers.pop();
  if (!top) return [];
  return layerChanges(store.layerDiffDir(top), layers.map((l) => store.layerDiffDir(l)).reverse());
}

/** podman's `--format json`: changed, added, deleted; empty lists left out. */
export function diffJson(changes: Change[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (k: string, p: string): void => {
    (out[k] ??= []).push(p);
  };
  for (const c of changes) {
    if (c.kind === 'C') add('changed', c.path);
  }
  for (const c of changes) {
    if (c.kind === 'A') add('added', c.path);
  }
  for (const c of changes) {
    if (c.kind === 'D') add('deleted', c.path);
  }
  return out;
}
