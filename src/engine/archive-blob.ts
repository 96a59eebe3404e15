// Turning a stored layer back into a blob: the deterministic tar of its diff dir (tar-writer.ts),
// hashed uncompressed (the diff ID) and, after gzip or zstd, hashed again (the blob digest), written
// to a file inside the store's staging area so its digest and size are known before an upload.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { findExecutable } from '../runtime/probe.js';
import { TspodError } from '../errors.js';
import { layerTar, type TarWriterOptions } from './tar-writer.js';
import { MEDIA_TYPE, type Compression } from '../image/manifest.js';

export interface LayerBlob {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  diffSize: number;
  /** sha256 of the file written. */
  digest: string;
  size: number;
  path: string;
  compression: Compression;
}

function hasher(): { stream: Transform; result: () => { digest: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${h.digest('hex')}`, size }) };
}

/**
 * Compresses through a CLI: zstd (Node 20 has none), and pigz for gzip when it is installed: node's
 * zlib compresses one stream on one core, pigz uses all of them (push was 2.3x podman without it).
 */
function cliCompressor(cmd: string, args: string[], pkg: string): { input: PassThrough; output: Readable; done: Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 2000)));
  const input = new PassThrough();
  input.pipe(child.stdin);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('unsupported', `running ${cmd}: ${e.message}`, { hint: `Install the ${pkg} package` })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new TspodError('internal', `${cmd} failed (exit ${code}): ${err.trim()}`))));
  });
  return { input, output: child.stdout, done };
}

/** Writes the layer blob of directory `dir` to `path`. */
export async function writeLayerBlob(dir: string, path: string, compression: Compression, opts: TarWriterOptions = {}): Promise<LayerBlob> {
  const raw = hasher();
  const packed = hasher();
  const out = createWriteStream(path, { mode: 0o600 });
  const pigz = compression === 'gzip' ? findExecutable('pigz') : undefined;
  if (compression === 'zstd' || pigz) {
    const z = pigz ? cliCompressor(pigz, ['-c', '-6'], 'pigz') : cliCompressor('zstd', ['-q', '-c', '-3', '-T0'], 'zstd');
    await Promise.all([pipeline(layerTar(dir, opts), raw.stream, z.input), pipeline(z.output, packed.stream, out), z.done]);
  } else if (compression === 'gzip') {
    await pipeline(layerTar(dir, opts), raw.stream, createGzip({ level: 6 }), packed.stream, out);
  } else {
    await pipeline(layerTar(dir, opts), raw.stream, packed.stream, out);
  }
  const r = raw.result();
  const p = packed.result();
  return { diffId: r.digest, diffSize: r.size, digest: p.digest, size: p.size, path, compression };
}

/** The layer media type for a manifest type and a compression. */
export function layerMediaType(manifestType: string, compression: Compression): string {
  if (manifestType === MEDIA_TYPE.dockerManifest) {
    if (compression !== 'gzip') throw new TspodError('invalid-argument', `docker v2s2 manifests only carry gzip layers; use --format oci for ${compression}`);
    return MEDIA_TYPE.dockerLayerGzip;
  }
  return compression === 'gzip' ? MEDIA_TYPE.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPE.ociLayerZstd : MEDIA_TYPE.ociLayer;
}
