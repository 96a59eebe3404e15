// save and load: docker-archive (manifest.json, repositories, <config>.json, <diff-id>.tar per
// layer, as `docker save` and podman write), oci-archive and oci-dir (an OCI image layout).
//
// save writes each layer's tar: a pulled layer's kept blob decompressed (the original tar, byte
// for byte, so the diff IDs, the config and the image ID stay the same), else the deterministic tar
// of its diff dir (tar-writer.ts). A layer without a kept blob that came from someone else's tar
// (loaded from a docker archive) rarely gives back the same bytes: its diff ID changes and the
// saved config carries the new rootfs.diff_ids, so the loaded image gets another ID.
//
// load never trusts the archive: every regular file entry is copied into the store's staging area
// (hashed on the way), symlinks and other entry types are ignored (never followed), JSON documents
// are capped at 4 MiB, blobs are checked against their digests and layers against the config's
// diff_ids by the extractor before anything is committed.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, closeSync, readSync, constants } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import { TspodError } from '../errors.js';
import { MEDIA_TYPE, MAX_JSON_DOCUMENT, parseImageConfig, parseManifest, type Descriptor, type ImageManifest } from '../image/manifest.js';
import { formatReference, normalizeReference, parseReference, validateDigest } from '../image/reference.js';
import { writeLayerTar } from './archive-blob.js';
import { recordImage, sha256, storeLayer, synthesizeManifest } from './archive-store.js';
import { readTar } from './archive-tar.js';
import { encodeHeader } from './tar-writer.js';
import { lookupImage } from './images.js';
import type { Engine } from './index.js';
import type { ImageRecord } from '../storage/store.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive' | 'oci-dir';

interface SavedImage {
  rec: ImageRecord;
  names: string[];
  config: Buffer;
  /** Per layer: file in staging, its digest (= diff ID, uncompressed) and size. */
  layers: Array<{ path: string; digest: string; size: number }>;
}

/** Re-archives the images' layers into `staging`, fixing up configs whose diff IDs changed. */
async function prepare(engine: Engine, inputs: string[], search: string[], staging: string): Promise<SavedImage[]> {
  const store = engine.store();
  const done = new Map<string, { path: string; digest: string; size: number }>();
  const out: SavedImage[] = [];
  for (const input of inputs) {
    const rec = lookupImage(store, input, search);
    let names = rec.names;
    try {
      const ref = parseReference(input);
      if (ref.registry !== undefined || ref.tag !== undefined) {
        const full = formatReference({ ...normalizeReference(ref), digest: undefined });
        if (rec.names.includes(full)) names = [full];
      }
    } catch {
      /* an ID */
    }
    const layers = [];
    for (const chain of rec.layers) {
      let l = done.get(chain);
      if (!l) {
        const lrec = store.layer(chain);
        if (!lrec) throw new TspodError('storage', `layer ${chain.slice(0, 12)} of image ${rec.id.slice(0, 12)} is missing`, { hint: 'Pull the image again' });
        const blob = await writeLayerTar(store, lrec, join(staging, `${done.size}.tar`));
        l = { path: blob.path, digest: blob.diffId, size: blob.diffSize };
        done.set(chain, l);
      }
      layers.push(l);
    }
    let config = store.imageConfig(rec.id);
    const doc = JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
    const ids = layers.map((l) => l.digest);
    const old = doc.rootfs?.diff_ids ?? [];
    if (ids.length !== old.length || ids.some((d, i) => d !== old[i])) {
      doc.rootfs = { ...(doc.rootfs ?? {}), diff_ids: ids };
      config = Buffer.from(JSON.stringify(doc));
    }
    out.push({ rec, names, config, layers });
  }
  return out;
}

type Item = { name: string; data?: Buffer; file?: { path: string; size: number } };

async function* tarOf(items: Item[]): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const dirs = new Set<string>();
  for (const it of items) {
    const parts = it.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        yield encodeHeader({ name: `${d}/`, mode: 0o755, uid: 0, gid: 0, size: 0, mtime, type: '5' });
      }
    }
    const size = it.data ? it.data.length : it.file!.size;
    yield encodeHeader({ name: it.name, mode: 0o644, uid: 0, gid: 0, size, mtime, type: '0' });
    if (it.data) yield it.data;
    else for await (const c of createReadStream(it.file!.path)) yield c as Buffer;
    if (size % 512) yield Buffer.alloc(512 - (size % 512));
  }
  yield Buffer.alloc(1024);
}

function hex(d: string): string {
  return d.slice('sha256:'.length);
}

function dockerArchive(images: SavedImage[]): Item[] {
  const items: Item[] = [];
  const seen = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const cfgName = `${hex(sha256(img.config))}.json`;
    if (!seen.has(cfgName)) {
      seen.add(cfgName);
      items.push({ name: cfgName, data: img.config });
    }
    const layerNames = [];
    for (const l of img.layers) {
      const n = `${hex(l.digest)}.tar`;
      if (!seen.has(n)) {
        seen.add(n);
        items.push({ name: n, file: l });
      }
      layerNames.push(n);
    }
    manifest.push({ Config: cfgName, RepoTags: img.names, Layers: layerNames });
    const top = img.layers.length ? hex(img.layers[img.layers.length - 1]!.digest) : '';
    for (const name of img.names) {
      const colon = name.lastIndexOf(':');
      const repo = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
      const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
      (repositories[repo] ??= {})[tag] = top;
    }
  }
  items.push({ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) });
  items.push({ name: 'repositories', data: Buffer.from(JSON.stringify(repositories)) });
  return items;
}

function ociLayout(images: SavedImage[]): Item[] {
  const items: Item[] = [{ name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) }];
  const seen = new Set<string>();
  const add = (digest: string, it: Omit<Item, 'name'>): void => {
    const name = `blobs/sha256/${hex(digest)}`;
    if (seen.has(name)) return;
    seen.add(name);
    items.push({ name, ...it });
  };
  const manifests: Descriptor[] = [];
  for (const img of images) {
    const cfgDigest = sha256(img.config);
    add(cfgDigest, { data: img.config });
    for (const l of img.layers) add(l.digest, { file: l });
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociManifest,
        config: { mediaType: MEDIA_TYPE.ociConfig, digest: cfgDigest, size: img.config.length },
        layers: img.layers.map((l) => ({ mediaType: MEDIA_TYPE.ociLayer, digest: l.digest, size: l.size })),
      }),
    );
    const md = sha256(m);
    add(md, { data: m });
    const names = img.names.length ? img.names : [undefined];
    for (const n of names) {
      const d: Descriptor = { mediaType: MEDIA_TYPE.ociManifest, digest: md, size: m.length };
      if (n) d.annotations = { 'org.opencontainers.image.ref.name': n };
      manifests.push(d);
    }
  }
  items.push({ name: 'index.json', data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests })) });
  return items;
}

export interface SaveOptions {
  format: ArchiveFormat;
  /** oci-dir: the directory; archives: written to `out`. */
  output?: string;
  out?: Writable;
  search: string[];
}

export async function saveImages(engine: Engine, inputs: string[], opts: SaveOptions): Promise<void> {
  if (inputs.length > 1 && opts.format !== 'docker-archive') {
    throw new TspodError('invalid-argument', `--format ${opts.format} takes one image; use docker-archive for several`);
  }
  const store = engine.store();
  const staging = store.newStaging('save');
  try {
    const images = await prepare(engine, inputs, opts.search, staging);
    const items = opts.format === 'docker-archive' ? dockerArchive(images) : ociLayout(images);
    if (opts.format === 'oci-dir') {
      const dir = opts.output!;
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
      for (const it of items) {
        const dest = join(dir, it.name);
        if (it.data) writeFileSync(dest, it.data, { mode: 0o644 });
        else await pipeline(createReadStream(it.file!.path), createWriteStream(dest, { mode: 0o644 }));
      }
      return;
    }
    await pipeline(Readable.from(tarOf(items)), opts.out!);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---- load ---------------------------------------------------------------------------------

interface ArchiveFile {
  path: string;
  size: number;
  digest: string;
}

/** A clean relative name for an archive entry, or undefined for anything that climbs out. */
function cleanName(n: string): string | undefined {
  const parts = n.split('/').filter((p) => p !== '' && p !== '.');
  if (n.startsWith('/') || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

/** Copies every regular file of the archive into staging, hashed; returns them by name. */
async function unpackArchive(src: Readable, staging: string): Promise<Map<string, ArchiveFile>> {
  const files = new Map<string, ArchiveFile>();
  let n = 0;
  await readTar(src, async (e, body) => {
    if (e.type !== '0' && e.type !== '7') return; // links, dirs, devices: never followed, never needed
    const name = cleanName(e.name);
    if (name === undefined) throw new TspodError('hostile-content', `archive: entry "${e.name}" climbs out of the archive`);
    if (files.has(name)) throw new TspodError('hostile-content', `archive: duplicate entry "${name}"`);
    const path = join(staging, `f${n++}`);
    const h = createHash('sha256');
    const hashT = new Transform({
      transform(c: Buffer, _e, cb) {
        h.update(c);
        cb(null, c);
      },
    });
    await pipeline(Readable.from(body), hashT, createWriteStream(path, { mode: 0o600 }));
    files.set(name, { path, size: e.size, digest: `sha256:${h.digest('hex')}` });
  });
  return files;
}

/** The regular files of an OCI layout directory (symlinks are not followed, nor accepted). */
async function readLayoutDir(dir: string): Promise<Map<string, ArchiveFile>> {
  const files = new Map<string, ArchiveFile>();
  const add = async (rel: string): Promise<void> => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    if (!st.isFile()) throw new TspodError('hostile-content', `${p}: not a regular file`);
    const h = createHash('sha256');
    const fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW);
    for await (const c of createReadStream('', { fd })) h.update(c as Buffer);
    files.set(rel, { path: p, size: st.size, digest: `sha256:${h.digest('hex')}` });
  };
  for (const d of ['blobs', 'blobs/sha256']) {
    if (!lstatSync(join(dir, d)).isDirectory()) throw new TspodError('hostile-content', `${join(dir, d)}: not a directory`);
  }
  for (const f of ['index.json', 'oci-layout']) await add(f);
  for (const f of readdirSync(join(dir, 'blobs', 'sha256'))) await add(`blobs/sha256/${f}`);
  return files;
}

function doc(files: Map<string, ArchiveFile>, name: string, what: string): Buffer {
  const f = files.get(name);
  if (!f) throw new TspodError('invalid-argument', `archive: ${what} "${name}" is missing`);
  if (f.size > MAX_JSON_DOCUMENT) throw new TspodError('hostile-content', `archive: ${what} "${name}" is larger than 4 MiB`);
  return readFileSync(f.path);
}

function localName(n: string): string | undefined {
  try {
    const ref = parseReference(n);
    if (ref.digest) return undefined;
    const named = normalizeReference(ref);
    return formatReference({ ...named, digest: undefined });
  } catch {
    return undefined;
  }
}

function compressionType(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return MEDIA_TYPE.ociLayerGzip;
    if (n >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return MEDIA_TYPE.ociLayerZstd;
    return MEDIA_TYPE.ociLayer;
  } finally {
    closeSync(fd);
  }
}

async function loadDocker(engine: Engine, files: Map<string, ArchiveFile>): Promise<string[]> {
  const list = JSON.parse(doc(files, 'manifest.json', 'manifest').toString('utf8')) as unknown;
  if (!Array.isArray(list)) throw new TspodError('hostile-content', 'archive: manifest.json is not a list');
  const loaded: string[] = [];
  for (const item of list as Array<{ Config?: unknown; RepoTags?: unknown; Layers?: unknown }>) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers) || !item.Layers.every((l) => typeof l === 'string')) {
      throw new TspodError('hostile-content', 'archive: manifest.json entry needs "Config" and "Layers"');
    }
    const cfgName = cleanName(item.Config);
    const configBytes = doc(files, cfgName ?? item.Config, 'config');
    const layerNames = item.Layers as string[];
    const config = parseImageConfig(configBytes, { layerCount: layerNames.length });
    const chains: string[] = [];
    const descs: Array<{ digest: string; size: number; mediaType: string }> = [];
    for (const [i, ln] of layerNames.entries()) {
      const f = files.get(cleanName(ln) ?? '');
      if (!f) throw new TspodError('invalid-argument', `archive: layer "${ln}" is missing (or not a regular file)`);
      const diffId = config.rootfs.diff_ids[i]!;
      const l = await storeLayer(engine, () => f.path, chains[i - 1], diffId, `loading layer ${ln}`);
      chains.push(l.chain);
      descs.push({ digest: f.digest, size: f.size, mediaType: compressionType(f.path) });
    }
    const names = Array.isArray(item.RepoTags) ? (item.RepoTags as unknown[]).filter((t): t is string => typeof t === 'string').map(localName).filter((n): n is string => !!n) : [];
    const id = await recordImage(engine, configBytes, { bytes: synthesizeManifest(configBytes, descs), mediaType: MEDIA_TYPE.ociManifest }, chains, names);
    loaded.push(...(names.length ? names : [`sha256:${id}`]));
  }
  return loaded;
}

function blob(files: Map<string, ArchiveFile>, d: Descriptor): ArchiveFile {
  validateDigest(d.digest, 'hostile-content');
  const f = files.get(`blobs/sha256/${hex(d.digest)}`);
  if (!f) throw new TspodError('invalid-argument', `archive: blob ${d.digest} is missing (or not a regular file)`);
  if (f.digest !== d.digest) throw new TspodError('digest-mismatch', `archive: blob ${d.digest} has digest ${f.digest}`);
  if (f.size !== d.size) throw new TspodError('hostile-content', `archive: blob ${d.digest} is ${f.size} bytes, its descriptor says ${d.size}`);
  return f;
}

function blobDoc(files: Map<string, ArchiveFile>, d: Descriptor): Buffer {
  if (d.size > MAX_JSON_DOCUMENT) throw new TspodError('hostile-content', `archive: document ${d.digest} is larger than 4 MiB`);
  return readFileSync(blob(files, d).path);
}

async function loadOci(engine: Engine, files: Map<string, ArchiveFile>): Promise<string[]> {
  const index = parseManifest(doc(files, 'index.json', 'index'), MEDIA_TYPE.ociIndex);
  if (index.kind !== 'index') throw new TspodError('hostile-content', 'archive: index.json is not an index');
  const loaded: string[] = [];
  const entries: Array<{ desc: Descriptor; name?: string }> = [];
  for (const d of index.manifests) {
    const ref = d.annotations?.['org.opencontainers.image.ref.name'];
    if (d.mediaType === MEDIA_TYPE.ociIndex || d.mediaType === MEDIA_TYPE.dockerManifestList) {
      const inner = parseManifest(blobDoc(files, d), d.mediaType);
      const arch = process.arch === 'x64' ? 'amd64' : process.arch;
      if (inner.kind === 'index') {
        const m = inner.manifests.find((x) => !x.platform || x.platform.architecture === arch);
        if (m) entries.push({ desc: m, name: ref });
      }
    } else entries.push({ desc: d, name: ref });
  }
  for (const { desc, name } of entries) {
    const bytes = blobDoc(files, desc);
    const m = parseManifest(bytes, desc.mediaType);
    if (m.kind !== 'manifest') continue;
    const man = m as ImageManifest;
    const configBytes = blobDoc(files, man.config);
    const config = parseImageConfig(configBytes, { layerCount: man.layers.length });
    const chains: string[] = [];
    for (const [i, ld] of man.layers.entries()) {
      const f = blob(files, ld);
      const l = await storeLayer(engine, () => f.path, chains[i - 1], config.rootfs.diff_ids[i]!, `loading layer ${ld.digest}`, {
        compressedDigest: ld.digest,
        compressedSize: ld.size,
        mediaType: ld.mediaType,
      });
      chains.push(l.chain);
    }
    const n = name && name.includes('/') ? localName(name) : undefined;
    const id = await recordImage(engine, configBytes, { bytes, mediaType: man.mediaType }, chains, n ? [n] : []);
    loaded.push(n ?? `sha256:${id}`);
  }
  if (!loaded.length) throw new TspodError('invalid-argument', 'archive: no image for this platform in index.json');
  return loaded;
}

/** Loads every image of an archive (a file, a directory or a stream); returns what was loaded. */
export async function loadImages(engine: Engine, input: string | Readable): Promise<string[]> {
  const store = engine.store();
  await store.gc();
  if (typeof input === 'string') {
    let dir: boolean;
    try {
      dir = statSync(input).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TspodError('invalid-argument', `open ${input}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    if (dir) return loadOci(engine, await readLayoutDir(input));
  }
  const staging = store.newStaging('load');
  try {
    const src = await maybeDecompress(typeof input === 'string' ? createReadStream(input) : input);
    const files = await unpackArchive(src, staging);
    if (files.has('manifest.json')) return await loadDocker(engine, files);
    if (files.has('index.json')) return await loadOci(engine, files);
    throw new TspodError('invalid-argument', 'payload does not match any of the supported image formats: docker-archive, oci-archive, oci-dir');
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Archives may be gzip- or zstd-compressed as a whole (`docker save | gzip`): look at the magic. */
async function maybeDecompress(src: Readable): Promise<Readable> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: Buffer = Buffer.alloc(0);
  while (first.length < 4) {
    const r = await it.next();
    if (r.done) break;
    first = Buffer.concat([first, r.value]);
  }
  const rest = Readable.from(
    (async function* () {
      if (first.length) yield first;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
  );
  let d: import('node:stream').Duplex | undefined;
  if (first[0] === 0x1f && first[1] === 0x8b) d = createGunzip();
  else if (first.length >= 4 && first.readUInt32LE(0) === 0xfd2fb528) {
    const child = spawn('zstd', ['-d', '-q', '-c'], { stdio: ['pipe', 'pipe', 'ignore'] });
    rest.on('error', (e) => child.stdout.destroy(e));
    child.stdin.on('error', () => undefined);
    rest.pipe(child.stdin);
    return child.stdout;
  }
  if (!d) return rest;
  const out = d;
  rest.on('error', (e) => out.destroy(e));
  return rest.pipe(out);
}
