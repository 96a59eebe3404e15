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
import type { LayerRecord } from '../storage/store.js';

export function chainOf(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId.replace(/^sha256:/, '') : createHash('sha256').update(`sha256:${parent} ${diffId}`).digest('hex');
}

const MOUNT_POINTS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'run/.containerenv']);

/** Relative paths below dir (sorted, parents first) and the whiteouts among them. */
function walk(dir: string): { entries: string[]; whiteouts: string[] } {
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
function opaqueDirs(dir: string): string[] {
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
  const store = engine.store();
  const staging = store.newStaging('build');
  try {
    const { entries, whiteouts } = walk(diffDir);
    for (const d of opaqueDirs(diffDir)) whiteouts.push(d ? `${d}/.wh..opq` : '.wh..opq');
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
    const diffId = res.diffId;
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
    for (const name of names) {
      for (const other of items) {
        if (other.id !== id && other.names.includes(name)) {
          other.names = other.names.filter((n) => n !== name);
          other.namesHistory = [name, ...(other.namesHistory ?? []).filter((n) => n !== name)];
        }
      }
    }
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
