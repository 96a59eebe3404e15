// Storing images that come from somewhere other than a registry (load, import, commit): layers
// go through the pull pipeline's extractor (tspod-extract) into a staging directory, are checked
// against the diff ID the image config names, and are committed under the layer lock; the image's
// documents and record are written last, together, under the store lock.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TspodError } from '../errors.js';
import { MEDIA_TYPE } from '../image/manifest.js';
import { helperPath } from './context.js';
import { splitName } from './images.js';
import type { Engine } from './index.js';
import { claimName, type LayerRecord } from '../storage/store.js';

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export function chainId(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId.slice('sha256:'.length) : createHash('sha256').update(`sha256:${parent} ${diffId}`).digest('hex');
}

/** Unpacks a layer blob (a file or a stream: gzip, zstd or plain tar) into `dest` with tspod-extract. */
export async function extractInto(engine: Engine, source: string | Readable, dest: string, what: string): Promise<{ diffId: string; size: number }> {
  const eng = engine.ctx;
  const child = spawn(helperPath(eng, 'tspod-extract'), eng.rootless ? ['--rootless', dest] : [dest], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (errText += d.slice(0, 4096)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('internal', `starting tspod-extract: ${e.message}`, { hint: 'Reinstall tspod: the native helpers are missing' })));
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
  let streamError: unknown;
  try {
    await pipeline(typeof source === 'string' ? createReadStream(source) : source, child.stdin);
  } catch (e) {
    streamError = e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPIPE' && code !== 'ERR_STREAM_PREMATURE_CLOSE') child.kill('SIGKILL');
  }
  const code = await exited;
  let res: { diffId?: string; size?: number; error?: string; entry?: string } = {};
  try {
    res = JSON.parse(out.trim().split('\n').pop() || '{}') as typeof res;
  } catch {
    /* reported below */
  }
  if (res.error) throw new TspodError('hostile-content', `${what}${res.entry ? `: entry "${res.entry}"` : ''}: ${res.error}`);
  if (streamError) throw new TspodError('storage', `${what}: ${(streamError as Error).message}`, { cause: streamError });
  if (code !== 0 || !res.diffId) throw new TspodError('internal', `${what}: tspod-extract failed (exit ${code})${errText ? `: ${errText.trim()}` : ''}`);
  return { diffId: res.diffId, size: res.size ?? 0 };
}

export interface StoredLayer {
  chain: string;
  diffId: string;
}

/**
 * Stores one layer on top of `parent` (a chain ID). With `expectedDiffId` the layer is skipped when
 * already present and its content must have that diff ID; without it, the content decides.
 */
export async function storeLayer(
  engine: Engine,
  source: string | Readable | (() => string | Readable),
  parent: string | undefined,
  expectedDiffId: string | undefined,
  what: string,
  extra: Partial<LayerRecord> = {},
): Promise<StoredLayer> {
  const store = engine.store();
  if (expectedDiffId !== undefined) {
    const chain = chainId(parent, expectedDiffId);
    if (store.layer(chain)) {
      if (typeof source !== 'string' && typeof source !== 'function') source.resume();
      return { chain, diffId: expectedDiffId };
    }
  }
  const staging = store.newStaging('layer');
  try {
    const diff = join(staging, 'diff');
    mkdirSync(diff, { mode: 0o755 });
    const src = typeof source === 'function' ? source() : source;
    const { diffId, size } = await extractInto(engine, src, diff, what);
    if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
      throw new TspodError('digest-mismatch', `${what}: uncompressed content has digest ${diffId}, but the image configuration says ${expectedDiffId}`);
    }
    const chain = chainId(parent, diffId);
    const lock = await store.lockLayer(chain);
    try {
      if (store.layer(chain)) {
        rmSync(staging, { recursive: true, force: true });
      } else {
        const rec: LayerRecord = { id: chain, diffId, size, created: new Date().toISOString(), ...extra };
        if (parent) rec.parent = parent;
        await store.commitLayer(staging, rec);
      }
    } finally {
      lock.release();
    }
    return { chain, diffId };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** An OCI manifest for layers that exist only unpacked (load from a docker archive, import, commit). */
export function synthesizeManifest(configBytes: Buffer, layers: Array<{ digest: string; size: number; mediaType?: string }>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: sha256(configBytes), size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType ?? MEDIA_TYPE.ociLayer, digest: l.digest, size: l.size })),
    }),
  );
}

/** Writes the image's documents and record; `names` move from any other image that had them. */
export async function recordImage(
  engine: Engine,
  configBytes: Buffer,
  manifest: { bytes: Buffer; mediaType: string },
  chains: string[],
  names: string[],
  parent?: string,
): Promise<string> {
  const store = engine.store();
  const id = sha256(configBytes).slice('sha256:'.length);
  const config = JSON.parse(configBytes.toString('utf8')) as { created?: string };
  const layerRecs = store.layers();
  const size = chains.reduce((n, c) => n + (layerRecs.find((l) => l.id === c)?.size ?? 0), 0);
  const digest = sha256(manifest.bytes);
  await store.commitImage(id, configBytes, [{ digest, bytes: manifest.bytes, primary: true }], (items) => {
    for (const name of names) claimName(items, id, name);
    let rec = items.find((i) => i.id === id);
    if (!rec) {
      rec = {
        id,
        names: [],
        digest,
        digests: [digest],
        repoDigests: [],
        layers: chains,
        created: config.created ?? new Date(0).toISOString(),
        added: new Date().toISOString(),
        size,
        manifestMediaType: manifest.mediaType,
      };
      // The image this one was made from (commit), podman's Parent.
      if (parent) Object.assign(rec, { parent });
      items.push(rec);
    }
    if (!rec.digests.includes(digest)) rec.digests.push(digest);
    for (const n of names) {
      if (!rec.names.includes(n)) rec.names.push(n);
      const rd = `${splitName(n)[0]}@${rec.digest}`;
      if (!rec.repoDigests.includes(rd)) rec.repoDigests.push(rd);
    }
  });
  return id;
}
