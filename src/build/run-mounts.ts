// RUN --mount (BuildKit's syntax, as buildah implements it): what a RUN step sees besides its
// image, gone again before the layer is committed.
//
//   type=bind  (default) source (default "."), from=<stage|image> (default: the build context),
//              target, ro (default) or rw. The source is copied into a private staging directory
//              (never through a symlink out of its root, .containerignore applies to the context),
//              and that copy is bind-mounted: writes with rw are discarded, the context is never
//              touched, and its content is part of the step's cache key.
//   type=cache id (default: the target), target, mode/uid/gid (of a new cache directory),
//              sharing (accepted; caches are shared), ro. A directory per id in
//              <graphroot>/build-cache/ that outlives builds; not part of the cache key.
//   type=tmpfs target, size.
//   secret, ssh: refused (no --secret/--ssh for build yet).
// The mount points the runtime had to create are removed from the layer again (BuildKit does too).
import { createHash } from 'node:crypto';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TspodError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import { withMountedRootfs } from '../engine/fs.js';
import { resolveInRoot } from '../runtime/confine.js';
import { viewOf } from '../engine/lifecycle.js';
import { ignored, resolveSource, stageCopy, type Ignore } from './context.js';
import { ctrOptions } from './stage.js';

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs';
  target: string;
  source: string;
  from?: string;
  readonly: boolean;
  id?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: string;
}

function fail(where: string, msg: string): never {
  throw new TspodError('invalid-argument', `${where}: --mount: ${msg}`);
}

/** Parses one --mount value; `workdir` resolves a relative target. */
export function parseRunMount(spec: string, workdir: string, where: string): RunMount {
  const kv = new Map<string, string>();
  for (const part of spec.split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    kv.set(k, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  const type = kv.get('type') ?? 'bind';
  if (type === 'secret' || type === 'ssh') fail(where, `type=${type} is not supported (tspod build has no --${type} yet)`);
  if (type !== 'bind' && type !== 'cache' && type !== 'tmpfs') fail(where, `unknown type "${type}": use bind, cache or tmpfs`);
  const known = new Set(['type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'ro', 'readonly', 'rw', 'readwrite', 'id', 'sharing', 'mode', 'uid', 'gid', 'size', 'tmpfs-size']);
  for (const k of kv.keys()) if (!known.has(k)) fail(where, `unknown option "${k}"`);
  const rawTarget = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (!rawTarget) fail(where, 'target is required');
  const target = posix.normalize(posix.isAbsolute(rawTarget) ? rawTarget : posix.join(workdir || '/', rawTarget));
  if (target === '/') fail(where, 'the target cannot be /');
  const flag = (k: string): boolean => {
    const v = kv.get(k);
    if (v === undefined) return false;
    if (v !== 'true' && v !== 'false') fail(where, `${k}=${v}: expected true or false`);
    return v === 'true';
  };
  const num = (k: string, base: number): number | undefined => {
    const v = kv.get(k);
    if (v === undefined) return undefined;
    const n = parseInt(v, base);
    if (!/^[0-9]+$/.test(v) || Number.isNaN(n) || n > 0xffffffff) fail(where, `${k}=${v}: not a number`);
    return n;
  };
  const sharing = kv.get('sharing');
  if (sharing !== undefined && !['shared', 'private', 'locked'].includes(sharing)) fail(where, `sharing=${sharing}: use shared, private or locked`);
  const rw = flag('rw') || flag('readwrite');
  const ro = flag('ro') || flag('readonly');
  return {
    type,
    target,
    source: kv.get('source') ?? kv.get('src') ?? (type === 'bind' ? '.' : ''),
    from: kv.get('from'),
    // bind mounts are read-only unless rw; caches read-write unless ro
    readonly: type === 'bind' ? !rw : ro,
    id: kv.get('id'),
    mode: num('mode', 8),
    uid: num('uid', 10),
    gid: num('gid', 10),
    size: kv.get('size') ?? kv.get('tmpfs-size'),
  };
}

export interface PreparedMounts {
  /** For CreateOptions.mounts. */
  specs: string[];
  /** Content of the bind sources, for the step's cache key. */
  key: string;
  /** Removes the staged copies. */
  cleanup(): void;
}

/**
 * Stages the bind sources and creates the cache directories. `imageFor` names the image of a
 * `from=` (a stage or an image reference), or undefined.
 */
export async function prepareRunMounts(
  engine: Engine,
  mounts: RunMount[],
  o: { contextDir: string; cwd: string; ig: Ignore; where: string },
  imageFor: (from: string) => Promise<string | undefined>,
): Promise<PreparedMounts> {
  const store = engine.store();
  const staging = store.newStaging('runmount');
  const hash = createHash('sha256');
  const specs: string[] = [];
  try {
    let n = 0;
    for (const m of mounts) {
      if (m.target.includes(',')) fail(o.where, `target "${m.target}" contains a comma`);
      hash.update(`${m.type}\0${m.target}\0${m.readonly}\0`);
      if (m.type === 'tmpfs') {
        specs.push(`type=tmpfs,destination=${m.target}${m.size ? `,tmpfs-size=${m.size}` : ''}`);
        continue;
      }
      if (m.type === 'cache') {
        const id = m.id ?? m.target;
        const dir = join(store.graphRoot, 'build-cache', createHash('sha256').update(id).digest('hex'));
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true, mode: m.mode ?? 0o755 });
          if (m.uid !== undefined || m.gid !== undefined) chownSync(dir, m.uid ?? 0, m.gid ?? 0);
        }
        specs.push(`type=bind,source=${dir},destination=${m.target}${m.readonly ? ',ro' : ''}`);
        continue;
      }
      const dest = join(staging, `b${n++}`);
      const copy = (root: string, useIgnore: boolean): void => {
        let rel: string;
        try {
          rel = resolveSource(root, m.source);
          lstatSync(rel ? join(root, rel) : root);
        } catch {
          fail(o.where, `source "${m.source}" not found${m.from ? ` in ${m.from}` : ' in the build context'}`);
        }
        if (useIgnore && rel && ignored(o.ig, rel)) fail(o.where, `source "${m.source}" is excluded by .containerignore/.dockerignore`);
        hash.update(`${m.from ?? ''}\0${rel}\0`);
        stageCopy(root, rel, dest, { ig: useIgnore ? o.ig : undefined, hash });
      };
      if (m.from !== undefined) {
        const image = await imageFor(m.from);
        if (!image) fail(o.where, `from=${m.from}: no such stage or image (a stage must come before its use)`);
        hash.update(`image\0${image}\0`);
        const rec = await engine.createContainer(ctrOptions(image, ['true'], [], o.cwd));
        try {
          await withMountedRootfs(engine, rec, async (merged) => copy(merged, false));
        } finally {
          await engine.removeContainer(rec.id, { force: true, volumes: true }).catch(() => {});
        }
      } else copy(o.contextDir, true);
      specs.push(`type=bind,source=${dest},destination=${m.target}${m.readonly ? ',ro' : ''}`);
    }
  } catch (e) {
    rmRf(staging);
    throw e;
  }
  return { specs, key: hash.digest('hex'), cleanup: () => rmRf(staging) };
}

function rmRf(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** The targets (and their parents) that do not exist in `rootfs`: the runtime will create them. */
export function missingTargets(rootfs: string, targets: string[]): string[] {
  const view = viewOf(rootfs);
  const out = new Set<string>();
  for (const t of targets) {
    let cur = '';
    for (const part of t.split('/').filter(Boolean)) {
      cur = `${cur}/${part}`;
      let resolved: string;
      try {
        resolved = resolveInRoot(view, cur);
      } catch {
        break;
      }
      if (view.lstat(resolved) === null) out.add(cur);
    }
  }
  return [...out];
}

/** Removes from the container's upper dir the empty directories the runtime made as mount points. */
export function removeMountStubs(upper: string, created: string[]): void {
  for (const p of [...created].sort((a, b) => b.length - a.length)) {
    const host = join(upper, p);
    try {
      if (lstatSync(host).isDirectory() && readdirSync(host).length === 0) rmdirSync(host);
    } catch {
      /* gone, or not ours to remove */
    }
  }
}
