// The layer and image stores (design.md §5). Metadata lives in two JSON files replaced atomically
// under the store lock; layer contents live in overlay/<chain-id>/diff, image documents in
// images/<id>/. A record is written only after its content is complete, and removed before its
// content is deleted, so a kill -9 at any point leaves at worst an orphan directory that the next
// writer garbage-collects.
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '../util/random.js';
import { readJson, writeFileAtomic } from './atomic.js';
import { acquire, ownerAlive, currentOwnerToken, withLock, type Lock } from './lock.js';
import { TspodError } from '../errors.js';

export interface LayerRecord {
  /** Chain ID hex: identifies the layer together with all its parents. */
  id: string;
  parent?: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** The layer's compressed blob: the one it was pulled as, or (build, commit, import) first pushed as. */
  compressedDigest?: string;
  compressedSize?: number;
  mediaType?: string;
  /**
   * overlay/<id>/blob holds that blob byte for byte (compressedSize bytes, digest compressedDigest),
   * so push uploads it as it is and save decompresses it: the layer keeps its digests everywhere.
   */
  blob?: boolean;
  /**
   * The diff ID of the kept blob's tar when it is not `diffId`: a blob made at a layer's first push
   * from its diff dir, when the layer was stored from another tar (build's GNU tar). Push then
   * names this diff ID in the config, as it did when it made the blob.
   */
  blobDiffId?: string;
  /** Uncompressed tar size. */
  size: number;
  created: string;
}

export interface ImageRecord {
  /** Config digest hex. */
  id: string;
  /** Fully qualified names: registry/repo:tag. */
  names: string[];
  /** Manifest digest of the primary manifest (sha256:...). */
  digest: string;
  /** Every manifest digest this image is known by (the image manifest and any index that led to it). */
  digests: string[];
  /** Names that carried this image's digests: repo@sha256:... */
  repoDigests: string[];
  /** Chain IDs, bottom layer first. */
  layers: string[];
  /** Created time from the image config (RFC 3339). */
  created: string;
  /** When it entered this store. */
  added: string;
  size: number;
  manifestMediaType: string;
  /** The image this one was built on (build steps, commit); podman's Parent. */
  parent?: string;
  /** Names this image had before, newest first (podman's NamesHistory). */
  namesHistory?: string[];
}

interface Index<T> {
  version: 1;
  items: T[];
}

export interface StoreOptions {
  graphRoot: string;
  runRoot: string;
}

export class Store {
  readonly graphRoot: string;
  readonly runRoot: string;

  private constructor(opts: StoreOptions) {
    this.graphRoot = opts.graphRoot;
    this.runRoot = opts.runRoot;
  }

  static open(opts: StoreOptions): Store {
    const s = new Store(opts);
    for (const d of [s.graphRoot, s.runRoot]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    // The graph root holds setuid files of images: other users must not reach them (CVE-2021-41091).
    chmodSync(s.graphRoot, 0o700);
    for (const d of ['overlay', 'images', 'tmp', 'locks']) mkdirSync(join(s.graphRoot, d), { recursive: true, mode: 0o700 });
    return s;
  }

  // ---- paths -------------------------------------------------------------------------------

  private get imagesFile(): string {
    return join(this.graphRoot, 'images.json');
  }
  private get layersFile(): string {
    return join(this.graphRoot, 'layers.json');
  }
  layerPath(id: string): string {
    return join(this.graphRoot, 'overlay', id);
  }
  layerDiffDir(id: string): string {
    return join(this.graphRoot, 'overlay', id, 'diff');
  }
  /** The kept compressed blob of a layer (see LayerRecord.blob): inside the layer directory, so it
   * is committed and removed with it. */
  layerBlobPath(id: string): string {
    return join(this.graphRoot, 'overlay', id, 'blob');
  }
  imageDir(id: string): string {
    return join(this.graphRoot, 'images', id);
  }
  lockPath(name: string): string {
    return join(this.graphRoot, 'locks', `${name}.lock`);
  }

  // ---- locking -----------------------------------------------------------------------------

  /** The store lock serialises metadata changes. Hold it briefly: never across a download. */
  withStoreLock<T>(fn: () => Promise<T> | T): Promise<T> {
    return withLock(join(this.graphRoot, 'storage.lock'), fn, 'the storage lock');
  }

  /** Per-layer lock: one process downloads a layer, the others wait and then find it present. */
  lockLayer(id: string): Promise<Lock> {
    return acquire(this.lockPath(`layer-${id}`), { what: `layer ${id.slice(0, 12)}` });
  }

  /** Per-image lock: held for a whole pull of that image. */
  lockImage(id: string): Promise<Lock> {
    return acquire(this.lockPath(`image-${id}`), { what: `image ${id.slice(0, 12)}` });
  }

  /** Per-container lock: cleanup, removal and start of one container never interleave. */
  lockContainer(id: string): Promise<Lock> {
    return acquire(this.lockPath(`container-${id}`), { what: `container ${id.slice(0, 12)}` });
  }

  // ---- reading -----------------------------------------------------------------------------

  images(): ImageRecord[] {
    return readJson<Index<ImageRecord>>(this.imagesFile, { version: 1, items: [] }).items;
  }

  layers(): LayerRecord[] {
    return readJson<Index<LayerRecord>>(this.layersFile, { version: 1, items: [] }).items;
  }

  layer(id: string): LayerRecord | undefined {
    return this.layers().find((l) => l.id === id);
  }

  imageConfig(id: string): Buffer {
    return readFileSync(join(this.imageDir(id), 'config.json'));
  }

  imageManifest(id: string, digest?: string): Buffer {
    const dir = this.imageDir(id);
    if (digest) {
      try {
        return readFileSync(join(dir, `manifest-${digest.replace(':', '-')}`));
      } catch {
        /* fall through to the primary one */
      }
    }
    return readFileSync(join(dir, 'manifest'));
  }

  // ---- writing -----------------------------------------------------------------------------

  /** Read-modify-write of images.json under the store lock. */
  updateImages<T>(fn: (items: ImageRecord[]) => T): Promise<T> {
    return this.withStoreLock(() => {
      const items = this.images();
      const r = fn(items);
      writeFileAtomic(this.imagesFile, JSON.stringify({ version: 1, items }));
      return r;
    });
  }

  updateLayers<T>(fn: (items: LayerRecord[]) => T): Promise<T> {
    return this.withStoreLock(() => {
      const items = this.layers();
      const r = fn(items);
      writeFileAtomic(this.layersFile, JSON.stringify({ version: 1, items }));
      return r;
    });
  }

  /**
   * A private staging directory inside the store, owned by this process. If we die, the next
   * writer sees the owner gone and removes it.
   */
  newStaging(kind: string): string {
    const dir = join(this.graphRoot, 'tmp', `${kind}-${randomBytes(8).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, '.owner'), currentOwnerToken());
    return dir;
  }

  /**
   * Moves a completed staging layer into place and records it. Caller holds the layer lock.
   * The directory appears first, then the record: a crash in between leaves an orphan directory
   * without a record, which commitLayer (next time) and gc() remove.
   */
  async commitLayer(staging: string, rec: LayerRecord): Promise<void> {
    rmSync(join(staging, '.owner'), { force: true });
    const dest = this.layerPath(rec.id);
    rmSync(dest, { recursive: true, force: true }); // orphan of an earlier crash
    renameSync(staging, dest);
    await this.updateLayers((items) => {
      if (!items.some((l) => l.id === rec.id)) items.push(rec);
    });
  }

  /**
   * Writes an image's documents and then its record, both under the store lock (gc() takes the
   * same lock, so it never sees the documents without the record being on its way).
   */
  async commitImage(
    id: string,
    config: Buffer,
    manifests: Array<{ digest: string; bytes: Buffer; primary: boolean }>,
    fn: (items: ImageRecord[]) => void,
  ): Promise<void> {
    await this.withStoreLock(() => {
      const dir = this.imageDir(id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(join(dir, 'config.json'), config);
      for (const m of manifests) {
        writeFileAtomic(join(dir, `manifest-${m.digest.replace(':', '-')}`), m.bytes);
        if (m.primary) writeFileAtomic(join(dir, 'manifest'), m.bytes);
      }
      const items = this.images();
      fn(items);
      writeFileAtomic(this.imagesFile, JSON.stringify({ version: 1, items }));
    });
  }

  /**
   * Keeps `file` (a staged blob of the layer's tar, compressed as `desc` says) as the layer's blob,
   * unless the layer already has one or names an original blob it does not keep (a layer stored
   * before blobs were kept: its original digest stays, for blob mounts). Takes the layer lock;
   * `file` must be inside the store (rename). Returns whether it was kept; if not, `file` is left.
   */
  async keepLayerBlob(id: string, file: string, desc: { digest: string; size: number; mediaType: string; diffId: string }): Promise<boolean> {
    const lock = await this.lockLayer(id);
    try {
      const rec = this.layer(id);
      if (!rec || rec.blob || rec.compressedDigest) return false;
      // The file first, then the record: a crash in between leaves an unrecorded file that the
      // next keepLayerBlob replaces and the layer's removal deletes.
      renameSync(file, this.layerBlobPath(id));
      await this.updateLayers((items) => {
        const r = items.find((l) => l.id === id);
        if (r && !r.blob && !r.compressedDigest) {
          Object.assign(r, { compressedDigest: desc.digest, compressedSize: desc.size, mediaType: desc.mediaType, blob: true });
          if (desc.diffId !== r.diffId) r.blobDiffId = desc.diffId;
        }
      });
      return true;
    } catch {
      return false; // the layer went away meanwhile (rmi): nothing to keep
    } finally {
      lock.release();
    }
  }

  /** Deletes layers no image references any more. Caller must not hold the store lock. */
  async removeUnreferencedLayers(keep: Set<string> = new Set()): Promise<string[]> {
    const removed = await this.withStoreLock(() => {
      const images = this.images();
      const used = new Set<string>(keep);
      for (const img of images) for (const l of img.layers) used.add(l);
      const layers = this.layers();
      const gone = layers.filter((l) => !used.has(l.id));
      if (gone.length) {
        writeFileAtomic(this.layersFile, JSON.stringify({ version: 1, items: layers.filter((l) => used.has(l.id)) }));
      }
      return gone.map((l) => l.id);
    });
    for (const id of removed) rmSync(this.layerPath(id), { recursive: true, force: true });
    return removed;
  }

  /** Removes image directories with no record. Caller holds the store lock. */
  private removeOrphanImageDirs(): void {
    const ids = new Set(this.images().map((i) => i.id));
    for (const d of safeReaddir(join(this.graphRoot, 'images'))) {
      if (!ids.has(d)) rmSync(this.imageDir(d), { recursive: true, force: true });
    }
  }

  /**
   * Garbage-collects what dead writers left behind: staging directories whose owner is gone,
   * layer directories without a record (not being committed right now), image directories
   * without a record. Cheap when there is nothing to do.
   */
  async gc(): Promise<number> {
    let n = 0;
    for (const d of safeReaddir(join(this.graphRoot, 'tmp'))) {
      const dir = join(this.graphRoot, 'tmp', d);
      let token = '';
      try {
        token = readFileSync(join(dir, '.owner'), 'utf8');
      } catch {
        // No owner file: created and abandoned in the same instant, or the owner file was
        // removed just before commit. Only remove it when it is clearly old.
        if (ageMs(dir) < 60_000) continue;
      }
      if (token && ownerAlive(token)) continue;
      rmSync(dir, { recursive: true, force: true });
      n++;
    }
    const layerDirs = safeReaddir(join(this.graphRoot, 'overlay'));
    if (layerDirs.length) {
      const known = new Set(this.layers().map((l) => l.id));
      for (const d of layerDirs) {
        if (known.has(d)) continue;
        // Being committed by a live process (it holds the layer lock)? Leave it.
        let lockOwner = '';
        try {
          lockOwner = readFileSync(this.lockPath(`layer-${d}`), 'utf8');
        } catch {
          /* no lock */
        }
        if (lockOwner && ownerAlive(lockOwner)) continue;
        rmSync(this.layerPath(d), { recursive: true, force: true });
        n++;
      }
    }
    await this.withStoreLock(() => this.removeOrphanImageDirs());
    return n;
  }
}

/**
 * A name belongs to one image: takes `name` away from every image but `id` (recording it in their
 * NamesHistory, as podman does). Call inside an images.json update.
 */
export function claimName(items: ImageRecord[], id: string, name: string): void {
  for (const other of items) {
    if (other.id !== id && other.names.includes(name)) {
      other.names = other.names.filter((n) => n !== name);
      other.namesHistory = [name, ...(other.namesHistory ?? []).filter((n) => n !== name)];
    }
  }
}

/** Apparent size of the files below `dir`, not following symlinks. */
export function diskUsage(dir: string): number {
  let total = 0;
  for (const name of safeReaddir(dir)) {
    const p = join(dir, name);
    try {
      const st = lstatSync(p);
      if (st.isDirectory()) total += diskUsage(p);
      else if (st.isFile()) total += st.size;
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity;
  }
}

export function storageError(message: string, cause?: unknown): TspodError {
  return new TspodError('storage', message, { cause });
}
