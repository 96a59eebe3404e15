// pull: resolve the name, fetch and verify the manifest (choosing a platform from an index), fetch
// and verify the config, then download, verify and unpack every missing layer concurrently, and
// record the image only once everything is in place.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, write } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { spawn } from 'node:child_process';
import { TspodError, isTspodError } from '../errors.js';
import { formatReference } from '../image/reference.js';
import { resolveImageName, type PullCandidate, type PullSource } from '../image/registries.js';
import { getCredentials, type Credentials } from '../image/auth.js';
import { RegistryClient } from '../image/registry.js';
import { MANIFEST_ACCEPT, parseManifest, parseImageConfig, type Descriptor, type ImageManifest } from '../image/manifest.js';
import type { FetchedManifest } from '../image/registry.js';
import { selectManifest, resolvePlatform } from '../image/platform.js';
import { helperPath } from './context.js';
import { splitName } from './images.js';
import type { Engine } from './index.js';
import { claimName, type LayerRecord } from '../storage/store.js';
import { VERSION } from '../version.js';

export interface PullOptions {
  platform?: string;
  arch?: string;
  os?: string;
  variant?: string;
  /** undefined: as registries.conf says; false: no TLS verification (and plain HTTP allowed). */
  tlsVerify?: boolean;
  /** USER[:PASSWORD] */
  creds?: string;
  authfile?: string;
}

export type PullEvent =
  | { type: 'resolving'; description: string }
  | { type: 'trying'; name: string }
  | { type: 'signatures' }
  | { type: 'blob'; digest: string; size: number; state: 'start' | 'skipped' | 'done' }
  | { type: 'progress'; digest: string; done: number; total: number }
  | { type: 'config'; digest: string }
  | { type: 'manifest' };

export interface PullResult {
  id: string;
  name: string;
  digest: string;
}

interface Ctx {
  engine: Engine;
  opts: PullOptions;
  emit: (e: PullEvent) => void;
}

const NON_RETRYABLE: ReadonlySet<string> = new Set(['hostile-content', 'digest-mismatch', 'invalid-argument', 'unsupported', 'storage', 'userns']);

export async function pullImage(engine: Engine, name: string, opts: PullOptions, onEvent?: (e: PullEvent) => void): Promise<PullResult> {
  const emit = onEvent ?? (() => {});
  const resolved = resolveImageName(engine.registries(), name);
  if (resolved.description && resolved.candidates.length > 1) emit({ type: 'resolving', description: resolved.description });
  const store = engine.store();
  await store.gc();
  const errors: Array<{ cand: PullCandidate; src: PullSource; err: TspodError }> = [];
  for (const cand of resolved.candidates) {
    if (cand.error) continue;
    emit({ type: 'trying', name: cand.name });
    for (const src of cand.sources) {
      try {
        return await pullFrom({ engine, opts, emit }, cand, src);
      } catch (e) {
        const err = e instanceof TspodError ? e : new TspodError('internal', (e as Error).message, { cause: e });
        if (NON_RETRYABLE.has(err.code)) throw err;
        errors.push({ cand, src, err });
      }
    }
  }
  throw combineErrors(errors);
}

/** Podman's shape: the primary's error, with what the mirrors said in parentheses. */
function combineErrors(errors: Array<{ cand: PullCandidate; src: PullSource; err: TspodError }>): TspodError {
  if (errors.length === 0) return new TspodError('invalid-argument', 'no candidate to pull from');
  const last = errors[errors.length - 1]!;
  const mirrors = errors.filter((e) => e.cand === last.cand && e.src.mirror);
  // Prefer the most telling error: a registry that answered beats one we could not reach.
  const answered = errors.find((e) => e.err.code !== 'network') ?? last;
  let msg = `initializing source docker://${last.cand.name}: `;
  if (mirrors.length && answered !== last) {
    msg += `${answered.err.message} (primary ${last.src.registry} also failed: ${last.err.message})`;
  } else if (mirrors.length) {
    msg += `(Mirrors also failed: [${mirrors.map((m) => m.err.message).join('; ')}]): ${last.err.message}`;
  } else msg += answered.err.message;
  return new TspodError(answered.err.code, msg, { hint: answered.err.hint, cause: answered.err });
}

function credentialsFor(ctx: Ctx, registry: string): Credentials | undefined {
  if (ctx.opts.creds !== undefined) {
    const c = ctx.opts.creds;
    const i = c.indexOf(':');
    if (i <= 0) throw new TspodError('invalid-argument', `invalid --creds: expected USERNAME:PASSWORD`, { hint: 'Use --creds user:password' });
    return { username: c.slice(0, i), password: c.slice(i + 1) };
  }
  return getCredentials(registry, { authfile: ctx.opts.authfile, env: ctx.engine.ctx.env });
}

function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d.slice('sha256:'.length) : createHash('sha256').update(`sha256:${prev} ${d}`).digest('hex'));
  }
  return out;
}

/** Runs fn, prefixing the image's name to an error that does not name it yet. */
function named<T>(imageName: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TspodError && !e.message.includes(imageName)) throw new TspodError(e.code, `${imageName}: ${e.message}`, { hint: e.hint, cause: e });
    throw e;
  }
}

async function pullFrom(ctx: Ctx, cand: PullCandidate, src: PullSource): Promise<PullResult> {
  const { engine } = ctx;
  const store = engine.store();
  const client = new RegistryClient({
    registry: src.registry,
    insecure: src.insecure || ctx.opts.tlsVerify === false,
    credentials: credentialsFor(ctx, src.registry),
    userAgent: `tspod/${VERSION}`,
  });
  const imageName = `docker://${cand.name}`;
  const ref = src.reference.digest ?? src.reference.tag ?? 'latest';
  const top = await client.getManifest(src.repository, ref, MANIFEST_ACCEPT);
  const digests = [top.digest];
  let doc = named(imageName, () => parseManifest(top.bytes, top.mediaType));
  let manifest = top;
  if (doc.kind === 'index') {
    const chosen = selectManifest(doc, resolvePlatform(ctx.opts), imageName);
    manifest = await client.getManifest(src.repository, chosen.digest, MANIFEST_ACCEPT);
    doc = named(imageName, () => parseManifest(manifest.bytes, manifest.mediaType));
    if (doc.kind === 'index') throw new TspodError('unsupported', `${imageName}: an index inside an index is not supported`);
    digests.push(manifest.digest);
  }
  ctx.emit({ type: 'signatures' });
  const configDesc = doc.config;
  const id = configDesc.digest.slice('sha256:'.length);
  // One process at a time pulls a given image: a second one waits here and then finds the config
  // and every layer already stored, so each blob crosses the network once.
  const imageLock = await store.lockImage(id);
  try {
    return await pullImageContent(ctx, client, cand, src, { top, manifest, doc, digests, imageName, id, configDesc });
  } finally {
    imageLock.release();
  }
}

interface Fetched {
  top: FetchedManifest;
  manifest: FetchedManifest;
  doc: ImageManifest;
  digests: string[];
  imageName: string;
  id: string;
  configDesc: Descriptor;
}

async function pullImageContent(ctx: Ctx, client: RegistryClient, cand: PullCandidate, src: PullSource, f: Fetched): Promise<PullResult> {
  const { engine } = ctx;
  const store = engine.store();
  const { top, manifest, doc, digests, imageName, id, configDesc } = f;
  const local = store.images().find((i) => i.id === id);
  let configBytes: Buffer | undefined;
  if (local) {
    try {
      configBytes = store.imageConfig(id);
      if (`sha256:${createHash('sha256').update(configBytes).digest('hex')}` !== configDesc.digest) configBytes = undefined;
    } catch {
      configBytes = undefined;
    }
  }
  configBytes ??= await client.getBlobBuffer(src.repository, configDesc.digest, 4 << 20);
  const layerCount = doc.layers.length;
  const config = named(imageName, () => parseImageConfig(configBytes, { layerCount }));
  const diffIds = config.rootfs.diff_ids;
  const chains = chainIds(diffIds);
  const existing = new Set(store.layers().map((l) => l.id));

  const parallel = Math.max(1, Number(engine.ctx.conf.engine.image_parallel_copies ?? 4) || 4);
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0) {
      const i = next++;
      if (i >= doc.layers.length) return;
      const desc = doc.layers[i]!;
      const chain = chains[i]!;
      if (existing.has(chain)) {
        ctx.emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'skipped' });
        continue;
      }
      try {
        await fetchLayer(ctx, client, src.repository, imageName, desc, diffIds[i]!, chain, chains[i - 1]);
      } catch (e) {
        failures.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, doc.layers.length) }, worker));
  if (failures.length) throw failures[0];

  ctx.emit({ type: 'config', digest: configDesc.digest });
  ctx.emit({ type: 'manifest' });
  const layerRecs = store.layers();
  const size = chains.reduce((n, c) => n + (layerRecs.find((l) => l.id === c)?.size ?? 0), 0);
  const localName = src.reference.digest && !cand.reference.tag ? undefined : formatReference({ ...cand.reference, digest: undefined });
  const repo = formatReference({ registry: cand.reference.registry, repository: cand.reference.repository });
  await store.commitImage(
    id,
    configBytes,
    [
      { digest: manifest.digest, bytes: manifest.bytes, primary: true },
      ...(top !== manifest ? [{ digest: top.digest, bytes: top.bytes, primary: false }] : []),
    ],
    (items) => {
      if (localName) claimName(items, id, localName);
      let rec = items.find((i) => i.id === id);
      if (!rec) {
        rec = {
          id,
          names: [],
          digest: top.digest,
          digests: [],
          repoDigests: [],
          layers: chains,
          created: config.created ?? new Date(0).toISOString(),
          added: new Date().toISOString(),
          size,
          manifestMediaType: manifest.mediaType,
        };
        items.push(rec);
      }
      rec.digest = top.digest;
      for (const d of digests) if (!rec.digests.includes(d)) rec.digests.push(d);
      if (localName && !rec.names.includes(localName)) rec.names.push(localName);
      for (const n of rec.names.map((x) => splitName(x)[0]).concat(repo)) {
        for (const d of digests) {
          const rd = `${n}@${d}`;
          if (!rec.repoDigests.includes(rd)) rec.repoDigests.push(rd);
        }
      }
    },
  );
  return { id, name: localName ?? `${repo}@${top.digest}`, digest: top.digest };
}

async function fetchLayer(
  ctx: Ctx,
  client: RegistryClient,
  repository: string,
  imageName: string,
  desc: Descriptor,
  diffId: string,
  chain: string,
  parent: string | undefined,
): Promise<void> {
  const store = ctx.engine.store();
  const lock = await store.lockLayer(chain);
  try {
    // Another process may have committed it while we waited for the lock.
    if (store.layer(chain)) {
      ctx.emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'skipped' });
      return;
    }
    ctx.emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'start' });
    const staging = store.newStaging('layer');
    try {
      const diff = join(staging, 'diff');
      mkdirSync(diff, { mode: 0o755 });
      // The blob is kept as downloaded, next to diff/: push uploads it as it is, save decompresses it.
      const { diffId: gotDiffId, size } = await unpackBlob(ctx, client, repository, imageName, desc, diff, join(staging, 'blob'));
      if (gotDiffId !== diffId) {
        throw new TspodError(
          'digest-mismatch',
          `${imageName}: layer ${desc.digest}: uncompressed content has digest ${gotDiffId}, but the image configuration says ${diffId}`,
        );
      }
      const rec: LayerRecord = {
        id: chain,
        diffId,
        compressedDigest: desc.digest,
        compressedSize: desc.size,
        mediaType: desc.mediaType,
        blob: true,
        size,
        created: new Date().toISOString(),
      };
      if (parent) rec.parent = parent;
      await store.commitLayer(staging, rec);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    ctx.emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'done' });
  } finally {
    lock.release();
  }
}

interface ExtractResult {
  diffId?: string;
  size?: number;
  error?: string;
  entry?: string;
}

/**
 * Streams the blob through a sha256 of the compressed bytes into tspod-extract, and writes the same
 * bytes to `keep` on the way (one download, one pass; the write overlaps the extractor's work).
 */
async function unpackBlob(
  ctx: Ctx,
  client: RegistryClient,
  repository: string,
  imageName: string,
  desc: Descriptor,
  dest: string,
  keep: string,
): Promise<{ diffId: string; size: number }> {
  const eng = ctx.engine.ctx;
  const args = eng.rootless ? ['--rootless', dest] : [dest];
  const child = spawn(helperPath(eng, 'tspod-extract'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (errText += d.slice(0, 4096)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('internal', `starting tspod-extract: ${e.message}`, { hint: 'Reinstall tspod: the native helpers are missing' })));
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
  const hash = createHash('sha256');
  let received = 0;
  let lastEmit = 0;
  const keepFd = openSync(keep, 'wx', 0o600);
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      received += chunk.length;
      const now = Date.now();
      if (now - lastEmit > 100) {
        lastEmit = now;
        ctx.emit({ type: 'progress', digest: desc.digest, done: received, total: desc.size });
      }
      // Hand the chunk on first, so the extractor works while the kept copy is written.
      this.push(chunk);
      writeAll(keepFd, chunk, cb);
    },
  });
  let streamError: unknown;
  try {
    // We hash the compressed stream ourselves (below), so the client need not hash it too.
    const blob: Readable = await client.getBlob(repository, desc.digest, { size: desc.size, verify: false });
    await pipeline(blob, meter, child.stdin);
  } catch (e) {
    streamError = e;
    // EPIPE: the extractor stopped reading because it refused the content; its report says why.
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE' && (e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      child.kill('SIGKILL');
    }
  }
  const code = await exited;
  closeSync(keepFd);
  let res: ExtractResult = {};
  try {
    res = JSON.parse(out.trim().split('\n').pop() || '{}') as ExtractResult;
  } catch {
    /* reported below */
  }
  const layer = `layer ${desc.digest}`;
  // The extractor stopping early (EPIPE on our side) means it refused the content: its report says
  // why. Any other stream failure (timeout, reset, lying registry) came first, and the extractor's
  // "truncated" is only its consequence.
  const refused = streamError === undefined || ['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'].includes((streamError as NodeJS.ErrnoException).code ?? '');
  if (res.error && refused) {
    const entry = res.entry ? `: entry "${res.entry}"` : '';
    throw new TspodError('hostile-content', `pulling ${imageName}: ${layer}${entry}: ${res.error}`);
  }
  if (streamError) {
    if (isTspodError(streamError)) throw new TspodError(streamError.code, `pulling ${imageName}: ${layer}: ${streamError.message}`, { cause: streamError });
    throw new TspodError('network', `pulling ${imageName}: ${layer}: ${(streamError as Error).message}`, { cause: streamError });
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest) {
    throw new TspodError('digest-mismatch', `pulling ${imageName}: ${layer}: downloaded blob has digest ${got}, expected ${desc.digest}`);
  }
  if (received !== desc.size) {
    throw new TspodError('hostile-content', `pulling ${imageName}: ${layer}: blob is ${received} bytes, the manifest says ${desc.size}`);
  }
  if (code !== 0 || !res.diffId) {
    throw new TspodError('internal', `pulling ${imageName}: ${layer}: tspod-extract failed (exit ${code})${errText ? `: ${errText.trim()}` : ''}`);
  }
  return { diffId: res.diffId, size: res.size ?? 0 };
}

/** Writes all of `buf` to `fd` (a regular file: short writes only on errors such as ENOSPC). */
function writeAll(fd: number, buf: Buffer, cb: (err?: Error | null) => void): void {
  write(fd, buf, 0, buf.length, null, (err, n) => {
    if (err) cb(new TspodError('storage', `keeping the layer blob: ${err.message}`, { cause: err }));
    else if (n < buf.length) writeAll(fd, buf.subarray(n), cb);
    else cb(null);
  });
}
