// push: copy a stored image to a registry.
//
// Per layer: the blob the store keeps with it (what the pull downloaded, or what the layer's first
// push produced) is referenced when the destination has it, mounted from another repository of
// that registry the image came from, or uploaded as it is, so a pulled image keeps its layer
// digests, diff IDs, config and manifest digest. Otherwise (another compression wanted, or a layer
// without a blob) its tar (the kept blob decompressed, else its diff dir archived, tar-writer.ts)
// is compressed while it is uploaded. Only a layer stored without a kept blob by an older tspod
// can come out with a new diff ID, and then the config and the image ID change.
import { rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { getCredentials, type Credentials } from '../image/auth.js';
import { MEDIA_TYPE, layerCompression, type Compression, type Descriptor } from '../image/manifest.js';
import { normalizeReference, parseReference, type NamedReference } from '../image/reference.js';
import { isInsecureRegistry } from '../image/registries.js';
import { RegistryClient } from '../image/registry.js';
import { VERSION } from '../version.js';
import { compressLayer, keptBlobStream, layerMediaType, layerTarStream, openKeptBlob, teeToFile } from './archive-blob.js';
import { lookupImage, splitName } from './images.js';
import type { Engine } from './index.js';
import type { ImageRecord } from '../storage/store.js';
import { BlobLocations } from '../storage/blob-locations.js';

export interface PushOptions {
  tlsVerify?: boolean;
  creds?: string;
  authfile?: string;
  /** Recompress every layer with this; default: reuse the stored layer's compression. */
  compressionFormat?: 'gzip' | 'zstd';
  /** Level for layers that get compressed; default containers.conf compression_level, else gzip 4 / zstd 3. */
  compressionLevel?: number;
  /** Manifest type; default: the stored manifest's. */
  format?: 'oci' | 'v2s2';
  /** Registries to resolve short names with. */
  searchRegistries: string[];
}

export type PushEvent =
  | { type: 'signatures' }
  | { type: 'blob'; digest: string; state: 'copy' | 'skipped' | 'mounted' }
  | { type: 'config'; digest: string }
  | { type: 'manifest' };

export interface PushResult {
  digest: string;
  destination: string;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export function parseCreds(creds: string): Credentials {
  const i = creds.indexOf(':');
  if (i <= 0) throw new TspodError('invalid-argument', 'invalid --creds: expected USERNAME:PASSWORD', { hint: 'Use --creds user:password' });
  return { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

/** The destination reference: DESTINATION (docker:// optional), else the image's own name. */
function destinationRef(input: string, destination: string | undefined, rec: ImageRecord): NamedReference {
  let d = destination ?? input;
  if (d.startsWith('docker://')) d = d.slice('docker://'.length);
  else if (/^(oci|oci-archive|docker-archive|dir|containers-storage|docker-daemon|sif|ostree):/.test(d)) {
    throw new TspodError('unsupported', `unsupported transport in "${d}": only docker:// is supported by push; use tspod save for archives`);
  }
  let ref: NamedReference;
  try {
    const parsed = parseReference(d);
    if (parsed.registry === undefined && destination === undefined) {
      // A short name: push to the name the local image has (docker.io/library/alpine for "alpine").
      const want = parsed.repository;
      const match = rec.names.find((n) => splitName(n)[0].endsWith(`/${want}`)) ?? rec.names[0];
      if (!match) throw new Error('unnamed');
      ref = normalizeReference(match);
    } else ref = normalizeReference(parsed);
  } catch (e) {
    if (destination === undefined && rec.names[0]) ref = normalizeReference(rec.names[0]);
    else if (destination === undefined) throw new TspodError('invalid-argument', `image ${input} has no name: give a DESTINATION`);
    else throw e;
  }
  if (ref.digest) throw new TspodError('invalid-argument', `cannot push to a digest reference "${d}": use a tag`);
  return ref;
}

export async function pushImage(engine: Engine, input: string, destination: string | undefined, opts: PushOptions, onEvent?: (e: PushEvent) => void): Promise<PushResult> {
  const emit = onEvent ?? (() => {});
  const store = engine.store();
  const rec = lookupImage(store, input, opts.searchRegistries);
  const dest = destinationRef(input, destination, rec);
  let regConf;
  try {
    regConf = engine.registries();
  } catch {
    regConf = undefined;
  }
  const client = new RegistryClient({
    registry: dest.registry,
    insecure: opts.tlsVerify === false || (opts.tlsVerify === undefined && regConf !== undefined && isInsecureRegistry(regConf, dest.registry)),
    credentials: opts.creds !== undefined ? parseCreds(opts.creds) : getCredentials(dest.registry, { authfile: opts.authfile, env: engine.ctx.env }),
    userAgent: `tspod/${VERSION}`,
    env: engine.ctx.env,
  });
  const repo = dest.repository;
  // As podman: zstd layers need an OCI manifest, so without --format a v2s2 image becomes OCI.
  const manifestType =
    opts.format === 'oci' ? MEDIA_TYPE.ociManifest
    : opts.format === 'v2s2' ? MEDIA_TYPE.dockerManifest
    : rec.manifestMediaType === MEDIA_TYPE.dockerManifest && opts.compressionFormat !== 'zstd' ? MEDIA_TYPE.dockerManifest
    : MEDIA_TYPE.ociManifest;
  if (opts.compressionFormat) layerMediaType(manifestType, opts.compressionFormat); // throws for zstd in v2s2
  const confLevel = engine.ctx.conf.engine.compression_level;
  const level = opts.compressionLevel ?? (typeof confLevel === 'number' ? confLevel : undefined);
  if (level !== undefined && (!Number.isInteger(level) || level < 1 || level > 19 || (level > 9 && opts.compressionFormat === 'gzip'))) {
    throw new TspodError('invalid-argument', `invalid compression level ${level}: gzip takes 1-9, zstd 1-19`);
  }
  // Repositories of the same registry this image came from: blobs can be mounted from there.
  const mountSources = [...new Set([...rec.names, ...rec.repoDigests].map((n) => splitName(n.split('@')[0]!)[0]))]
    .map((n) => {
      try {
        return normalizeReference(n, { defaultTag: false });
      } catch {
        return undefined;
      }
    })
    .filter((r): r is NamedReference => r !== undefined && r.registry === dest.registry && r.repository !== repo)
    .map((r) => r.repository);

  // Other repositories of this registry that we pushed the same blobs to (a cache).
  const locations = BlobLocations.forStore(store.graphRoot);

  const configBytes = store.imageConfig(rec.id);
  const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
  emit({ type: 'signatures' });
  const staging = store.newStaging('push');
  try {
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    let reusedAll = true;
    const pushLayer = async (i: number, chain: string): Promise<void> => {
      const lrec = store.layer(chain);
      if (!lrec) throw new TspodError('storage', `layer ${chain.slice(0, 12)} of image ${rec.id.slice(0, 12)} is missing`, { hint: 'Pull the image again' });
      let stored: Compression | undefined;
      try {
        stored = lrec.mediaType ? layerCompression(lrec.mediaType) : undefined;
      } catch {
        stored = undefined;
      }
      let want: Compression = opts.compressionFormat ?? stored ?? 'gzip';
      if (manifestType === MEDIA_TYPE.dockerManifest) want = 'gzip';
      const mediaType = layerMediaType(manifestType, want);
      // 1. The layer's own blob (pulled, or kept from an earlier push), when the compression is
      //    the wanted one: already there, mounted from a repository the image came from, or
      //    uploaded from the store as it is. The descriptor and diff ID stay the original ones.
      if (lrec.compressedDigest && lrec.compressedSize !== undefined && stored === want && RegistryClient.isDigest(lrec.compressedDigest)) {
        let state: 'skipped' | 'mounted' | 'copy' | undefined = (await client.blobExists(repo, lrec.compressedDigest)) ? 'skipped' : undefined;
        const known = locations.repositories(lrec.compressedDigest, dest.registry).filter((r) => r !== repo);
        for (const from of state ? [] : [...new Set([...mountSources, ...known])].slice(0, 4)) {
          if (await client.mountBlob(repo, lrec.compressedDigest, from).catch(() => false)) {
            state = 'mounted';
            break;
          }
        }
        const kept = state ? undefined : openKeptBlob(store, lrec);
        if (kept) {
          await client.uploadBlob(repo, lrec.compressedDigest, lrec.compressedSize, keptBlobStream(kept.fd));
          state = 'copy';
        }
        if (state) {
          emit({ type: 'blob', digest: lrec.compressedDigest, state });
          layers[i] = { mediaType, digest: lrec.compressedDigest, size: lrec.compressedSize };
          diffIds[i] = lrec.blobDiffId ?? lrec.diffId;
          return;
        }
      }
      // 2. Compress the layer's tar (its kept blob decompressed: same diff ID; else its diff dir
      //    archived) while uploading it, in one pass; the compressed bytes also go to staging.
      reusedAll = false;
      const tmp = join(staging, `layer-${i}`);
      const tar = layerTarStream(store, lrec);
      const blob = await compressLayer(tar, { compression: want, level }, (s, digestOf) => {
        const tee = teeToFile(tmp);
        s.on('error', (e) => tee.destroy(e));
        return client.uploadBlobStreamed(repo, s.pipe(tee), digestOf);
      });
      const keptDiffId = lrec.blobDiffId ?? lrec.diffId;
      if (tar.fromBlob && blob.diffId !== keptDiffId) {
        throw new TspodError('storage', `layer ${chain.slice(0, 12)}: its kept blob gives diff ID ${blob.diffId}, not ${keptDiffId}`, { hint: 'Remove the image and pull it again' });
      }
      emit({ type: 'blob', digest: blob.digest, state: 'copy' });
      // A layer that had no blob (build, commit, import) keeps this one: the next push uploads or
      // skips it without compressing again, and its digest stays the same.
      if (!tar.fromBlob) await store.keepLayerBlob(chain, tmp, { digest: blob.digest, size: blob.size, mediaType, diffId: blob.diffId });
      rmSync(tmp, { force: true });
      layers[i] = { mediaType, digest: blob.digest, size: blob.size };
      diffIds[i] = blob.diffId;
    };
    // image_parallel_copies layers at a time, as pull does.
    const parallel = Math.max(1, Number(engine.ctx.conf.engine.image_parallel_copies ?? 4) || 4);
    let next = 0;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (failures.length === 0 && next < rec.layers.length) {
        const i = next++;
        try {
          await pushLayer(i, rec.layers[i]!);
        } catch (e) {
          failures.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, rec.layers.length) }, worker));
    if (failures.length) throw failures[0];

    // The config: unchanged bytes unless a diff ID changed.
    const oldIds = config.rootfs?.diff_ids ?? [];
    const changed = diffIds.length !== oldIds.length || diffIds.some((d, i) => d !== oldIds[i]);
    let cfgBytes = configBytes;
    if (changed) {
      config.rootfs = { ...(config.rootfs ?? {}), diff_ids: diffIds };
      cfgBytes = Buffer.from(JSON.stringify(config));
    }
    const cfgDigest = sha256(cfgBytes);
    emit({ type: 'config', digest: cfgDigest });
    if (!(await client.blobExists(repo, cfgDigest))) await client.uploadBlob(repo, cfgDigest, cfgBytes.length, cfgBytes);

    // The manifest: the stored bytes when nothing changed, so the digest stays the same.
    emit({ type: 'manifest' });
    let manifest: Buffer | undefined;
    if (!changed && reusedAll && manifestType === rec.manifestMediaType) {
      // Only when it names exactly these blobs (a built image's stored manifest names its
      // uncompressed layers, which were never uploaded).
      const stored = store.imageManifest(rec.id);
      if (sameLayers(stored, cfgDigest, layers)) manifest = stored;
    }
    if (!manifest) {
      const doc = {
        schemaVersion: 2,
        mediaType: manifestType,
        config: { mediaType: manifestType === MEDIA_TYPE.dockerManifest ? MEDIA_TYPE.dockerConfig : MEDIA_TYPE.ociConfig, digest: cfgDigest, size: cfgBytes.length },
        layers,
      };
      manifest = Buffer.from(JSON.stringify(doc));
    }
    const digest = await client.putManifest(repo, dest.tag ?? 'latest', manifest, manifestType);
    locations.record(layers.map((l) => l.digest), dest.registry, repo);
    return { digest, destination: `${dest.registry}/${repo}:${dest.tag ?? 'latest'}` };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Whether the manifest document `bytes` names this config and exactly these layer descriptors. */
function sameLayers(bytes: Buffer, cfgDigest: string, layers: Descriptor[]): boolean {
  try {
    const m = JSON.parse(bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
    return (
      m.config?.digest === cfgDigest &&
      Array.isArray(m.layers) &&
      m.layers.length === layers.length &&
      m.layers.every((l, i) => l.digest === layers[i]!.digest && l.size === layers[i]!.size && l.mediaType === layers[i]!.mediaType)
    );
  } catch {
    return false;
  }
}
