// Turning a build container's writable layer into a store layer, and writing build images.
// The upper dir is tarred by the host's GNU tar (overlay whiteouts, 0/0 character devices, become
// `.wh.NAME` entries) and the tar goes through tspod-extract into a staging layer: the extractor
// computes the diff ID and writes the layer in the store's overlay format, exactly as for a pull.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { helperPath } from '../engine/context.js';
import type { Engine } from '../engine/index.js';
import type { ImageConfigDoc } from '../engine/images.js';
import { claimName, type LayerRecord } from '../storage/store.js';
import { layerTar } from '../engine/tar-writer.js';

export function chainOf(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId.replace(/^sha256:/, '') : createHash('sha256').update(`sha256:${parent} ${diffId}`).digest('hex');
}

const MOUNT_POINTS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'run/.containerenv']);

/** Relative paths below dir (sorted, parents first) and the whiteouts among them. */
export function walk(dir: string): { entries: string[]; whiteouts: string[] } {
  const entries: string[] = [];
  const whiteouts: string[] = [];
  const rec = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (r.includes('\n')) throw new TspodError('unsupported', `cannot commit a file whose name contains a newline: ${JSON.stringify(r)}`);
      const st = lstatSync(join(dir, r));
      // Mount points the runtime created for /etc/hosts, /etc/hostname, /etc/resolv.conf: not content.
      if (MOUNT_POINTS.has(r) && st.isFile() && st.size === 0) continue;
      if (st.isCharacterDevice() && st.rdev === 0) {
        whiteouts.push(r);
        continue;
      }
      entries.push(r);
      if (st.isDirectory()) rec(r);
    }
  };
  rec('');
  return { entries, whiteouts };
}

/**
 * Directories overlay marked opaque (removed and recreated: nothing below shows through), as
 * paths relative to dir. Node cannot read xattrs; getfattr (package attr) can, without following
 * symlinks.
 */
export function opaqueDirs(dir: string): string[] {
  const r = spawnSync('getfattr', ['-R', '-P', '--absolute-names', '-d', '-m', '^(user|trusted)\\.overlay\\.opaque$', '--', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new TspodError('internal', `running getfattr: ${r.error.message}`, { hint: 'Install the attr package' });
  const out: string[] = [];
  let file: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8);
    else if (file !== undefined && /overlay\.opaque="y"$/.test(line)) {
      const rel = file === dir ? '' : file.startsWith(`${dir}/`) ? file.slice(dir.length + 1) : undefined;
      if (rel !== undefined) out.push(rel);
    }
  }
  return out;
}

/** Commits `diffDir` (an overlay upper dir) as a layer on top of `parent`; returns the chain ID. */
export async function commitDiff(engine: Engine, diffDir: string, parent: string | undefined): Promise<{ chain: string; diffId: string; size: number }> {
  const { entries, whiteouts } = walk(diffDir);
  for (const d of opaqueDirs(diffDir)) whiteouts.push(d ? `${d}/.wh..opq` : '.wh..opq');
  return commitEntries(engine, diffDir, entries, whiteouts, parent);
}

/**
 * Commits `entries` (paths relative to `dir`, parents first, not recursed into) and `whiteouts`
 * (paths to hide, or `D/.wh..opq` for an opaque directory D: the entry `D/.wh..wh..opq`) as a layer on top of `parent`.
 */
export async function commitEntries(engine: Engine, diffDir: string, entries: string[], whiteouts: string[], parent: string | undefined): Promise<{ chain: string; diffId: string; size: number }> {
  const store = engine.store();
  const staging = store.newStaging('build');
  try {
    const wh = join(staging, 'wh');
    mkdirSync(wh);
    const list: string[] = [`--directory=${diffDir}`, ...entries.map((e) => `./${e}`)];
    if (whiteouts.length) {
      list.push(`--directory=${wh}`);
      for (const w of whiteouts) {
        const slash = w.lastIndexOf('/');
        const dir = slash < 0 ? '' : w.slice(0, slash);
        const name = `.wh.${w.slice(slash + 1)}`;
        mkdirSync(join(wh, dir), { recursive: true });
        writeFileSync(join(wh, dir, name), '');
        list.push(`./${dir ? `${dir}/` : ''}${name}`);
      }
    }
    // --directory lines are options inside the list file (GNU tar).
    writeFileSync(join(staging, 'list'), list.join('\n') + '\n');
    const layerDir = join(staging, 'layer');
    const diff = join(layerDir, 'diff');
    mkdirSync(diff, { recursive: true, mode: 0o755 });
    const res = await tarInto(engine, ['--no-unquote', '--no-recursion', '--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '-cf', '-', '-T', join(staging, 'list')], diff);
    // The layer's identity is the tar that push and save will write from the stored directory
    // (tar-writer.ts, deterministic), not GNU tar's stream: then a pushed image keeps its image ID.
    const diffId = await canonicalDiffId(diff);
    const chain = chainOf(parent, diffId);
    const lock = await store.lockLayer(chain);
    try {
      if (!store.layer(chain)) {
        // The layer directory must be its own staging dir for commitLayer (renamed into place).
        const own = store.newStaging('layer');
        try {
          renameSync(diff, join(own, 'diff'));
          const rec: LayerRecord = { id: chain, diffId, size: res.size, created: new Date().toISOString() };
          if (parent) rec.parent = parent;
          await store.commitLayer(own, rec);
        } catch (e) {
          rmSync(own, { recursive: true, force: true });
          throw e;
        }
      }
    } finally {
      lock.release();
    }
    return { chain, diffId, size: res.size };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** sha256 of the layer tar tspod writes for `dir` (a stored layer directory), as a diff ID. */
export async function canonicalDiffId(dir: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of layerTar(dir)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** Runs `tar ARGS` into `tspod-extract DEST`; returns the extractor's report. */
export async function tarInto(engine: Engine, tarArgs: string[], dest: string, cwd?: string): Promise<{ diffId: string; size: number }> {
  const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const args = engine.ctx.rootless ? ['--rootless', dest] : [dest];
  const ex = spawn(helperPath(engine.ctx, 'tspod-extract'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let tarErr = '';
  let out = '';
  let exErr = '';
  tar.stderr.setEncoding('utf8').on('data', (d: string) => (tarErr += d.slice(0, 4096)));
  ex.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  ex.stderr.setEncoding('utf8').on('data', (d: string) => (exErr += d.slice(0, 4096)));
  ex.stdin.on('error', () => {});
  tar.stdout.pipe(ex.stdin);
  const done = (c: ReturnType<typeof spawn>, what: string): Promise<number> =>
    new Promise((resolve, reject) => {
      c.on('error', (e) => reject(new TspodError('internal', `starting ${what}: ${e.message}`)));
      c.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    });
  const [tc, ec] = await Promise.all([done(tar, 'tar'), done(ex, 'tspod-extract')]);
  let res: { diffId?: string; size?: number; error?: string; entry?: string } = {};
  try {
    res = JSON.parse(out.trim().split('\n').pop() || '{}') as typeof res;
  } catch {
    /* below */
  }
  if (res.error) throw new TspodError('hostile-content', `${res.entry ? `entry "${res.entry}": ` : ''}${res.error}`);
  if (tc !== 0) throw new TspodError('internal', `tar failed (exit ${tc}): ${tarErr.trim()}`);
  if (ec !== 0 || !res.diffId) throw new TspodError('internal', `tspod-extract failed (exit ${ec}): ${exErr.trim()}`);
  return { diffId: res.diffId, size: res.size ?? 0 };
}

/** Writes an image (config + a manifest of uncompressed layers) with `layers` (chain IDs). */
export async function writeImage(engine: Engine, config: ImageConfigDoc, layers: string[], names: string[], parent?: string): Promise<string> {
  const store = engine.store();
  const bytes = Buffer.from(JSON.stringify(config));
  const id = createHash('sha256').update(bytes).digest('hex');
  const recs = layers.map((c) => store.layer(c));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${id}`, size: bytes.length },
      layers: recs.map((r) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: r?.diffId ?? '', size: r?.size ?? 0 })),
    }),
  );
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const size = recs.reduce((n, r) => n + (r?.size ?? 0), 0);
  await store.commitImage(id, bytes, [{ digest, bytes: manifest, primary: true }], (items) => {
    for (const name of names) claimName(items, id, name);
    let rec = items.find((i) => i.id === id);
    if (!rec) {
      rec = {
        id,
        names: [],
        digest,
        digests: [digest],
        repoDigests: [],
        layers,
        created: config.created ?? new Date().toISOString(),
        added: new Date().toISOString(),
        size,
        manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      };
      if (parent) rec.parent = parent;
      items.push(rec);
    }
    for (const n of names) if (!rec.names.includes(n)) rec.names.push(n);
  });
  return id;
}

/**
 * `build --squash` / `--squash-all`: a copy of image `id` whose layers above the first `keep` (the
 * base image's) are one layer. Its content is read from the image's mounted root: every path the
 * squashed layers touch, and a whiteout for every one they removed (with `keep` 0: the whole root).
 * `keepHistory` history entries (the base image's) are kept, one entry stands for the rest.
 */
export async function squashImage(engine: Engine, id: string, base: string | undefined, keep: number, keepHistory: number, createdBy: string, cwd: string): Promise<string> {
  const store = engine.store();
  const img = store.images().find((i) => i.id === id);
  if (!img) throw new TspodError('internal', `squash: image ${id} not found`);
  const config = JSON.parse(store.imageConfig(id).toString('utf8')) as ImageConfigDoc;
  const squashed = img.layers.slice(keep);
  if (squashed.length === 0) return id;
  // The paths the squashed layers touch, those removed, and the directories made opaque.
  const touched = new Set<string>();
  const opaque = new Set<string>();
  for (const chain of squashed) {
    const dir = store.layerDiffDir(chain);
    const { entries, whiteouts } = walk(dir);
    for (const e of entries) touched.add(e);
    for (const w of whiteouts) touched.add(w);
    for (const d of opaqueDirs(dir)) opaque.add(d);
  }
  const { ctrOptions } = await import('./stage.js');
  const { withMountedRootfs } = await import('../engine/fs.js');
  if (keep > 0 && !base) throw new TspodError('internal', 'squash: no base image');
  const rec = await engine.createContainer(ctrOptions(id, ['true'], [], cwd));
  const baseRec = keep > 0 ? await engine.createContainer(ctrOptions(base!, ['true'], [], cwd)) : undefined;
  let res: { chain: string; diffId: string; size: number };
  try {
    res = await withMountedRootfs(engine, rec, async (merged) => {
      if (keep === 0 || !baseRec) {
        const { entries } = walk(merged);
        return commitEntries(engine, merged, entries, [], undefined);
      }
      const present = new Map<string, boolean>(); // path -> is a directory
      const exists = (p: string): boolean => {
        if (!present.has(p)) {
          let isDir = false;
          try {
            isDir = lstatSync(join(merged, p)).isDirectory();
          } catch {
            return false;
          }
          present.set(p, isDir);
        }
        return true;
      };
      const entries = new Set<string>();
      const whiteouts: string[] = [];
      for (const p of [...touched].sort()) {
        // the parents must be directories of the final root (else an ancestor's whiteout covers it)
        const parts = p.split('/');
        let parentOk = true;
        for (let i = 1; i < parts.length && parentOk; i++) {
          const a = parts.slice(0, i).join('/');
          parentOk = exists(a) && present.get(a) === true;
        }
        if (!parentOk) continue;
        if (exists(p)) {
          // parents first: a touched path's ancestors that the layers only traversed are added too
          for (let i = 1; i < parts.length; i++) {
            const a = parts.slice(0, i).join('/');
            entries.add(a);
          }
          entries.add(p);
          if (opaque.has(p) && present.get(p)) whiteouts.push(`${p}/.wh..opq`);
        } else whiteouts.push(p);
      }
      // A whiteout only for what the base image has (one in a directory without a lower part
      // would show), and none below an opaque directory.
      const kept = await withMountedRootfs(engine, baseRec, async (lower) =>
        whiteouts.filter((w) => {
          const parts = w.split('/');
          for (let i = 1; i < parts.length; i++) if (opaque.has(parts.slice(0, i).join('/'))) return false;
          if (w.endsWith('/.wh..opq')) return true;
          try {
            lstatSync(join(lower, w));
            return true;
          } catch {
            return false;
          }
        }),
      );
      return commitEntries(engine, merged, [...entries].sort(), kept, img.layers[keep - 1]);
    });
  } finally {
    await engine.removeContainer(rec.id, { force: true, volumes: true }).catch(() => {});
    if (baseRec) await engine.removeContainer(baseRec.id, { force: true, volumes: true }).catch(() => {});
  }
  const layers = [...img.layers.slice(0, keep), res.chain];
  config.rootfs = { type: 'layers', diff_ids: [...(config.rootfs?.diff_ids ?? []).slice(0, keep), res.diffId] };
  config.created = new Date().toISOString();
  config.history = [...(config.history ?? []).slice(0, keepHistory), { created: config.created, created_by: createdBy }];
  return writeImage(engine, config, layers, []);
}
