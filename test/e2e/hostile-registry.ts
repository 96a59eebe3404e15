// A fake OCI distribution registry for e2e tests, listening on 127.0.0.1:<random port> (plain http).
//
// It serves images built in the test from hand-written tar entries, so a test can hand the engine
// exactly the bytes it wants: well-formed images (to count downloads or interrupt them) and hostile
// ones (path escapes, lying sizes, bad digests, ambiguous manifests, stalls). It records every request.
//
// The tar writer here is deliberately dumb: it writes the names, sizes and link targets it is given,
// never normalising them, because the point is to produce archives a careful extractor must refuse.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

// ---------------------------------------------------------------------------------------------------
// tar

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'pax';

export interface TarEntry {
  name: string;
  type?: EntryType; // default 'file'
  data?: Buffer | string; // file content (type 'file')
  linkname?: string; // hardlink / symlink target
  mode?: number; // permission bits incl. setuid/setgid/sticky; default 0o644 files, 0o755 dirs
  uid?: number;
  gid?: number;
  /** header size, when it should lie about the data that follows */
  size?: bigint | number;
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  pax: 'x', // PAX extended header for the next entry
};

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new Error(`tar field too long (${b.length} > ${len}): ${s}`);
  b.copy(buf, off);
}

function writeOctal(buf: Buffer, off: number, len: number, n: bigint): void {
  const max = (1n << BigInt(3 * (len - 1))) - 1n;
  if (n <= max) {
    writeString(buf, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
    return;
  }
  // GNU base-256: high bit of the first byte set, big-endian binary in the rest.
  buf.fill(0, off, off + len);
  buf[off] = 0x80;
  let v = n;
  for (let i = off + len - 1; i > off; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

export function tarHeader(e: TarEntry): Buffer {
  const type = e.type ?? 'file';
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  const size = e.size !== undefined ? BigInt(e.size) : type === 'file' ? BigInt(data.length) : 0n;
  const h = Buffer.alloc(512);
  writeString(h, 0, 100, e.name);
  writeOctal(h, 100, 8, BigInt(e.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644)));
  writeOctal(h, 108, 8, BigInt(e.uid ?? 0));
  writeOctal(h, 116, 8, BigInt(e.gid ?? 0));
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 1_700_000_000n);
  h.write('        ', 148, 'latin1'); // checksum placeholder
  h.write(TYPEFLAG[type], 156, 'latin1');
  writeString(h, 157, 100, e.linkname ?? '');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  writeString(h, 265, 32, 'root');
  writeString(h, 297, 32, 'root');
  writeOctal(h, 329, 8, BigInt(e.devmajor ?? 0));
  writeOctal(h, 337, 8, BigInt(e.devminor ?? 0));
  let sum = 0;
  for (const byte of h) sum += byte;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`);
}

function padTo512(len: number): Buffer {
  return Buffer.alloc((512 - (len % 512)) % 512);
}

/**
 * A tar archive of `entries`. Names and link targets longer than 100 bytes go into a PAX header
 * (verbatim, `..` and all). `end: false` leaves out the two zero blocks (and the padding of the last
 * entry), as in a stream cut short.
 */
export function tar(entries: TarEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const [i, e] of entries.entries()) {
    const pax: Buffer[] = [];
    let header = e;
    if (Buffer.byteLength(e.name) > 100 || Buffer.byteLength(e.linkname ?? '') > 100) {
      if (Buffer.byteLength(e.name) > 100) pax.push(paxRecord('path', e.name));
      if (Buffer.byteLength(e.linkname ?? '') > 100) pax.push(paxRecord('linkpath', e.linkname ?? ''));
      header = { ...e, name: e.name.slice(-100).replace(/^\/+/, ''), linkname: (e.linkname ?? '').slice(0, 100) };
      const body = Buffer.concat(pax);
      parts.push(tarHeader({ name: 'PaxHeader', type: 'pax', size: body.length }), body, padTo512(body.length));
    }
    parts.push(tarHeader(header));
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(data);
    const last = i === entries.length - 1;
    if (!(last && opts.end === false)) parts.push(padTo512(data.length));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function sha256hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function digestOf(b: Buffer | string): string {
  return `sha256:${sha256hex(b)}`;
}

// ---------------------------------------------------------------------------------------------------
// images

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export interface LayerSpec {
  /** the uncompressed tar (its sha256 is the diff ID unless `diffId` says otherwise) */
  tar: Buffer;
  /** the bytes served as the blob; default gzip(tar) */
  blob?: Buffer;
  /** the digest written in the manifest; default digest(blob) */
  digest?: string;
  /** the diff ID written in the config; default digest(tar) */
  diffId?: string;
  mediaType?: string;
}

export interface BuiltLayer {
  blob: Buffer;
  digest: string; // as written in the manifest
  diffId: string; // as written in the config
  mediaType: string;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  layers: BuiltLayer[];
}

export interface ImageOptions {
  labels?: Record<string, string>;
  cmd?: string[];
  /** changes to the manifest object before it is serialised */
  editManifest?: (m: Record<string, unknown>) => void;
  /** changes to the config object before it is serialised */
  editConfig?: (c: Record<string, unknown>) => void;
}

export function buildImage(layerSpecs: LayerSpec[], opts: ImageOptions = {}): BuiltImage {
  const layers: BuiltLayer[] = layerSpecs.map((l) => {
    const blob = l.blob ?? gzipSync(l.tar);
    return {
      blob,
      digest: l.digest ?? digestOf(blob),
      diffId: l.diffId ?? digestOf(l.tar),
      mediaType: l.mediaType ?? MT.ociLayerGzip,
    };
  });
  const configObj: Record<string, unknown> = {
    created: '2024-01-02T03:04:05Z',
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: opts.cmd ?? ['/bin/sh'],
      Labels: opts.labels ?? { 'org.tspod.fixture': 'fake-registry' },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-02T03:04:05Z', created_by: `layer ${i}` })),
  };
  opts.editConfig?.(configObj);
  const config = Buffer.from(JSON.stringify(configObj));
  const manifestObj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: digestOf(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  };
  opts.editManifest?.(manifestObj);
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  return {
    manifest,
    manifestDigest: digestOf(manifest),
    manifestMediaType: MT.ociManifest,
    config,
    configDigest: digestOf(config),
    layers,
  };
}

// ---------------------------------------------------------------------------------------------------
// the registry

export interface RequestRecord {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

interface BlobEntry {
  body: Buffer;
  /** send this many bytes of the body, then nothing more; the connection stays open */
  stallAfter?: number;
  /** how many more GETs stall (Infinity: all of them) */
  stallTimes?: number;
}

interface ManifestEntry {
  body: Buffer;
  mediaType: string;
}

export class FakeRegistry {
  readonly requests: RequestRecord[] = [];
  private server: http.Server;
  private manifests = new Map<string, ManifestEntry>(); // "<repo>:<tag>" and "<repo>@<digest>"
  private blobs = new Map<string, BlobEntry>(); // digest -> entry (any repo)
  private listeners: Array<(r: RequestRecord) => void> = [];
  private port = 0;
  /** every blob GET waits this long before the response starts (makes concurrent pulls overlap) */
  blobDelayMs = 0;
  /** blob bodies are sent in chunks of this size with `chunkDelayMs` between them (0: all at once) */
  chunkSize = 0;
  chunkDelayMs = 0;

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    // A stalled response keeps its socket open forever; never let that keep the test process alive.
    this.server.keepAliveTimeout = 1000;
  }

  static async start(): Promise<FakeRegistry> {
    const r = new FakeRegistry();
    await new Promise<void>((resolve, reject) => {
      r.server.once('error', reject);
      r.server.listen(0, '127.0.0.1', () => resolve());
    });
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  /** "127.0.0.1:<port>" */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addBlob(body: Buffer, digest = digestOf(body)): string {
    this.blobs.set(digest, { body });
    return digest;
  }

  /** Serve `body` as manifest `<repo>:<tag>` (and by its digest). Returns the digest. */
  addManifest(repo: string, tag: string, body: Buffer, mediaType: string): string {
    const digest = digestOf(body);
    const e = { body, mediaType };
    this.manifests.set(`${repo}:${tag}`, e);
    this.manifests.set(`${repo}@${digest}`, e);
    return digest;
  }

  /** Serve a built image as `<host>/<repo>:<tag>`. Returns the full reference. */
  addImage(repo: string, tag: string, img: BuiltImage): string {
    this.addBlob(img.config, img.configDigest);
    for (const l of img.layers) this.addBlob(l.blob, l.digest);
    this.addManifest(repo, tag, img.manifest, img.manifestMediaType);
    return `${this.host}/${repo}:${tag}`;
  }

  /** The next `times` GETs of blob `digest` send `afterBytes` bytes and then stall with the socket open. */
  stallBlob(digest: string, afterBytes: number, times = Infinity): void {
    const e = this.blobs.get(digest);
    if (!e) throw new Error(`no blob ${digest}`);
    e.stallAfter = afterBytes;
    e.stallTimes = times;
  }

  /** How many GET requests fetched blob `digest` (any repository). */
  blobGets(digest: string): number {
    return this.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)).length;
  }

  /** Resolves with the first recorded request (past or future) that satisfies `pred`. */
  waitForRequest(pred: (r: RequestRecord) => boolean, timeoutMs = 30_000): Promise<RequestRecord> {
    const seen = this.requests.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`fake registry: no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (r: RequestRecord): void => {
        if (!pred(r)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(r);
      };
      this.listeners.push(listener);
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const rec: RequestRecord = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      authorization: req.headers.authorization,
    };
    this.requests.push(rec);
    for (const l of [...this.listeners]) l(rec);
    req.resume();

    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (path === '/v2/' || path === '/v2') {
      this.send(res, 200, 'application/json', Buffer.from('{}'));
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || (rec.method !== 'GET' && rec.method !== 'HEAD')) {
      this.error(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
      return;
    }
    const [, repo, kind, ref] = m;
    if (kind === 'manifests') {
      const key = ref.startsWith('sha256:') ? `${repo}@${ref}` : `${repo}:${ref}`;
      const e = this.manifests.get(key);
      if (!e) {
        this.error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
        return;
      }
      res.setHeader('Docker-Content-Digest', digestOf(e.body));
      this.send(res, 200, e.mediaType, e.body, rec.method === 'HEAD');
      return;
    }
    const blob = this.blobs.get(ref);
    if (!blob) {
      this.error(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      return;
    }
    res.setHeader('Docker-Content-Digest', ref);
    res.setHeader('Accept-Ranges', 'bytes');
    if (rec.method === 'HEAD') {
      this.send(res, 200, 'application/octet-stream', blob.body, true);
      return;
    }
    let body = blob.body;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(rec.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      if (start > end) {
        res.setHeader('Content-Range', `bytes */${body.length}`);
        this.error(res, 416, 'RANGE_INVALID', 'requested range not satisfiable');
        return;
      }
      res.setHeader('Content-Range', `bytes ${start}-${end}/${blob.body.length}`);
      body = body.subarray(start, end + 1);
      status = 206;
    }
    if (blob.stallAfter !== undefined && (blob.stallTimes ?? 0) > 0) {
      blob.stallTimes = (blob.stallTimes ?? 1) - 1;
      res.writeHead(status, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(body.length),
      });
      res.write(body.subarray(0, Math.min(blob.stallAfter, body.length)));
      return; // never end: the client must give up on its own (or be killed)
    }
    const sendBlob = (): void => {
      if (!this.chunkSize) {
        this.send(res, status, 'application/octet-stream', body);
        return;
      }
      res.writeHead(status, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
      let off = 0;
      const next = (): void => {
        if (res.destroyed) return;
        const chunk = body.subarray(off, off + this.chunkSize);
        off += chunk.length;
        if (off >= body.length) res.end(chunk);
        else res.write(chunk, () => setTimeout(next, this.chunkDelayMs));
      };
      next();
    };
    if (this.blobDelayMs) setTimeout(sendBlob, this.blobDelayMs);
    else sendBlob();
  }

  private send(res: http.ServerResponse, status: number, type: string, body: Buffer, head = false): void {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(body.length) });
    res.end(head ? undefined : body);
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    const body = Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] }));
    this.send(res, status, 'application/json', body);
  }
}

// ---------------------------------------------------------------------------------------------------
// the hostile images

export interface HostileCase {
  /** repository is `evil/<name>`, tag `latest` */
  name: string;
  what: string;
  image: BuiltImage;
  /** a word the error must contain: the offending entry (or document) */
  entry: string;
  /** the layer digest and diff ID the error may use to name the layer (undefined: not a layer problem) */
  layer?: BuiltLayer;
  /** true: a careful engine pulls it (device nodes are skipped rootless) */
  pullSucceeds?: boolean;
  /** the blob served under the layer's digest, when it is not the layer's blob */
  servedBlob?: Buffer;
}

/** Enough `../` to climb out of any store, however deep, and land at `/`. */
export const CLIMB = '../'.repeat(16);

function benign(): TarEntry[] {
  return [
    { name: 'etc/', type: 'dir' },
    { name: 'etc/hostile-fixture', data: 'a benign file before the hostile entry\n' },
  ];
}

function oneLayer(name: string, what: string, entry: string, entries: TarEntry[], end = true): HostileCase {
  const image = buildImage([{ tar: tar([...benign(), ...entries], { end }) }]);
  return { name, what, image, entry, layer: image.layers[0] };
}

/**
 * The hostile images, one layer each (or one bad document). `victim` is the absolute path of an
 * existing file, owned by the test user, that a whiteout climbing out of the layer tries to delete
 * (e.g. `/home/tspodtest/e2e/060-hostile.canary/victim`). Every entry that would land outside the
 * layer is named `pwned-*`, so a search for that name finds any escape.
 */
export function hostileCases(victim: string): HostileCase[] {
  const cases: HostileCase[] = [];
  cases.push(
    oneLayer('dotdot', '`..` entry climbing out of the layer', 'pwned-dotdot', [
      { name: `${CLIMB}tmp/pwned-dotdot`, data: 'escaped\n' },
    ]),
  );
  cases.push(
    oneLayer('dotdot-short', '`../escape`: one level up', 'pwned-escape', [
      { name: '../pwned-escape', data: 'escaped\n' },
    ]),
  );
  cases.push(
    oneLayer('absolute', 'absolute path', 'pwned-absolute', [{ name: '/tmp/pwned-absolute', data: 'escaped\n' }]),
  );
  cases.push(
    oneLayer('symlink', 'entry written through a symlink that points outside', 'pwned-symlink', [
      { name: 'escape-link', type: 'symlink', linkname: `${CLIMB}tmp` },
      { name: 'escape-link/pwned-symlink', data: 'escaped\n' },
    ]),
  );
  cases.push(
    oneLayer('hardlink', 'hardlink to a file outside the layer', 'pwned-hardlink', [
      { name: 'pwned-hardlink', type: 'hardlink', linkname: `${CLIMB}etc/passwd` },
    ]),
  );
  const victimRel = victim.replace(/^\/+/, '');
  const slash = victimRel.lastIndexOf('/');
  const whiteout = `${CLIMB}${victimRel.slice(0, slash + 1)}.wh.${victimRel.slice(slash + 1)}`;
  cases.push(
    oneLayer('whiteout', 'whiteout that climbs out of the layer', `.wh.${victimRel.slice(slash + 1)}`, [
      { name: whiteout, data: '' },
    ]),
  );
  cases.push(
    oneLayer('whiteout-short', 'whiteout `../.wh.x`', '.wh.pwned-whiteout', [{ name: '../.wh.pwned-whiteout' }]),
  );
  const huge = oneLayer(
    'huge-size',
    'file whose header claims 2^40 bytes, followed by a few KiB and the end of the stream',
    'pwned-huge',
    [{ name: 'pwned-huge', size: 1n << 40n, data: Buffer.alloc(4096, 0x41) }],
    false,
  );
  cases.push(huge);
  {
    // Random-ish bytes so the gzip stream is long and cutting it leaves a valid prefix.
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
    const t2 = tar([...benign(), { name: 'etc/payload', data: payload }]);
    const gz = gzipSync(t2);
    const cut = gz.subarray(0, Math.floor(gz.length / 2));
    const image = buildImage([{ tar: t2, blob: cut }]);
    cases.push({ name: 'truncated-gzip', what: 'gzip stream cut in half', image, entry: '', layer: image.layers[0] });
  }
  {
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    const image = buildImage([{ tar: garbage, blob: garbage }]);
    cases.push({ name: 'garbage', what: 'layer that is neither gzip nor tar', image, entry: '', layer: image.layers[0] });
  }
  {
    // The manifest names the digest of one blob; the registry serves another of the same size.
    const real = gzipSync(tar([...benign(), { name: 'etc/real', data: 'the real layer\n' }]));
    const evilTar = tar([...benign(), { name: 'etc/evil', data: 'the evil layer\n' }]);
    let evil = gzipSync(evilTar);
    if (evil.length !== real.length) {
      // keep the size equal so only the digest check can catch it
      evil = Buffer.concat([evil, Buffer.alloc(Math.max(0, real.length - evil.length))]).subarray(0, real.length);
    }
    const image = buildImage([{ tar: evilTar, blob: real }]);
    cases.push({
      name: 'blob-digest',
      what: 'blob whose bytes do not match the digest in the manifest',
      image,
      entry: image.layers[0].digest.slice(7, 19),
      layer: image.layers[0],
      servedBlob: evil,
    });
  }
  {
    const t = tar([...benign(), { name: 'etc/diffid', data: 'diff id mismatch\n' }]);
    const image = buildImage([{ tar: t, diffId: digestOf('not this layer') }]);
    cases.push({
      name: 'diffid',
      what: "config diff_ids that do not match the layer's uncompressed digest",
      image,
      entry: '',
      layer: image.layers[0],
    });
  }
  {
    const t = tar(benign());
    const image = buildImage([{ tar: t }], {
      editManifest: (m) => {
        m.manifests = [{ mediaType: MT.ociManifest, digest: digestOf('x'), size: 1 }];
      },
    });
    cases.push({ name: 'ambiguous', what: 'document that is both a manifest and an index', image, entry: '' });
  }
  {
    const t = tar(benign());
    const image = buildImage([{ tar: t }], {
      editManifest: (m) => {
        m.annotations = { padding: 'x'.repeat(5 * 1024 * 1024) };
      },
    });
    cases.push({ name: 'huge-manifest', what: 'manifest larger than 4 MiB', image, entry: '' });
  }
  {
    const c = oneLayer('chardev', 'character device node (skipped rootless, pull succeeds)', 'null-copy', [
      { name: 'dev/', type: 'dir' },
      { name: 'dev/null-copy', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'etc/after-device', data: 'extracted after the device node\n' },
    ]);
    c.pullSucceeds = true;
    cases.push(c);
  }
  return cases;
}

/** Serve every case as `<host>/evil/<name>:latest`. */
export function serveHostile(reg: FakeRegistry, cases: HostileCase[]): void {
  for (const c of cases) {
    reg.addImage(`evil/${c.name}`, 'latest', c.image);
    if (c.servedBlob && c.layer) reg.addBlob(c.servedBlob, c.layer.digest);
  }
}
