// A minimal streaming tar reader for image archives (load): ustar, PAX (path, linkpath, size) and
// GNU long names. It only hands out entries; callers decide what to keep. Archives are untrusted:
// PAX headers are capped at 1 MiB, names are returned raw for the caller to validate.
import type { Readable } from 'node:stream';
import { TspodError } from '../errors.js';

export interface TarEntry {
  name: string;
  type: string;
  size: number;
  linkname: string;
}

const MAX_PAX = 1 << 20;

function hostile(msg: string): TspodError {
  return new TspodError('hostile-content', `archive: ${msg}`);
}

class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes handed out so far. */
  pos = 0;
  private readonly it: AsyncIterator<Buffer>;
  constructor(src: Readable) {
    this.it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    return this.buf.length >= n;
  }
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.pos += n;
    return out;
  }
  /** Yields exactly n bytes in chunks. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length && !(await this.fill(1))) throw hostile('truncated entry');
      const c = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(c.length);
      this.pos += c.length;
      left -= c.length;
      yield c;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) {
      /* discard */
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z === -1 ? s : s.subarray(0, z)).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstr(b, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw hostile(`invalid numeric field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function parsePax(b: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  let off = 0;
  while (off < b.length) {
    const sp = b.indexOf(0x20, off);
    if (sp === -1) throw hostile('bad PAX record');
    const len = Number(b.subarray(off, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || off + len > b.length) throw hostile('bad PAX record length');
    const rec = b.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq !== -1) m.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1).toString('utf8'));
    off += len;
  }
  return m;
}

/**
 * Calls `onEntry` for every entry with a stream of its content; the callback must consume it
 * (or not: what it leaves is skipped).
 */
export async function readTar(src: Readable, onEntry: (e: TarEntry, body: AsyncGenerator<Buffer>) => Promise<void>): Promise<void> {
  const r = new ByteReader(src);
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let sawAny = false;
  for (;;) {
    const h = await r.read(512);
    if (!h) {
      if (!sawAny) throw new TspodError('invalid-argument', 'archive is empty or not a tar archive');
      return; // tolerated: no end-of-archive blocks
    }
    if (h.every((x) => x === 0)) return;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== num(h, 148, 8)) throw new TspodError('invalid-argument', 'not a tar archive (bad header checksum)');
    sawAny = true;
    const type = String.fromCharCode(h[156]! || 0x30);
    let size = num(h, 124, 12);
    const padded = Math.ceil(size / 512) * 512;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_PAX) throw hostile('extended header larger than 1 MiB');
      const body = await r.read(padded);
      if (!body) throw hostile('truncated extended header');
      const data = body.subarray(0, size);
      if (type === 'x') pax = parsePax(data);
      else if (type === 'L') longName = cstr(data, 0, data.length);
      else if (type === 'K') longLink = cstr(data, 0, data.length);
      continue;
    }
    const prefix = cstr(h, 345, 155);
    let name = cstr(h, 0, 100);
    if (prefix && h.subarray(257, 262).toString('latin1') === 'ustar') name = `${prefix}/${name}`;
    name = pax.get('path') ?? longName ?? name;
    const linkname = pax.get('linkpath') ?? longLink ?? cstr(h, 157, 100);
    if (pax.has('size')) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0) throw hostile(`entry "${name}" has an invalid size`);
    const full = Math.ceil(size / 512) * 512;
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    const hasBody = type === '0' || type === '7' || type === '\0';
    const bodySize = hasBody ? size : 0;
    const start = r.pos;
    await onEntry({ name, type: type === '\0' ? '0' : type, size: bodySize, linkname }, r.take(bodySize));
    // Skip whatever the callback did not read.
    await r.skip(bodySize - (r.pos - start));
    if (hasBody) await r.skip(full - size);
    else if (size > 0) await r.skip(full);
  }
}
