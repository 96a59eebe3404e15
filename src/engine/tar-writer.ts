// A layer tar from a directory in overlay format (a stored layer's diff dir or a container's upper
// dir): 0/0 character devices become `.wh.NAME` files, directories marked `*.overlay.opaque=y`
// get a `.wh..wh..opq` entry, hard links inside the tree become link entries, other xattrs go into
// PAX `SCHILY.xattr.*` records. The output is deterministic (entries sorted by name, whole-second
// mtimes, numeric owners, no user or group names) so the same directory always gives the same
// diff ID.
//
// Node has no xattr API: one `getfattr -R` over the whole tree lists every xattr up front (a
// process per directory would be far too slow).
import { spawn } from 'node:child_process';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TspodError } from '../errors.js';

const BLOCK = 512;
const OPAQUE_KEYS = ['user.overlay.opaque', 'trusted.overlay.opaque'];

export interface TarWriterOptions {
  /** Ignore overlay whiteouts and opaque markers (plain directories, e.g. import of a rootfs). */
  plain?: boolean;
}

/** Every xattr below `root`, by path relative to `root` ('' is the root itself). */
export async function readXattrs(root: string): Promise<Map<string, Map<string, Buffer>>> {
  const out = new Map<string, Map<string, Buffer>>();
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', (e) => reject(new TspodError('internal', `running getfattr: ${e.message}`, { hint: 'Install the attr package' })));
    // getfattr exits 1 when some file has no xattr support (e.g. a symlink); its listing is still complete.
    child.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = Buffer.from(unescapeGetfattr(line.slice(8)), 'latin1').toString('utf8');
      const rel = abs === root ? '' : abs.startsWith(root + '/') ? abs.slice(root.length + 1) : undefined;
      current = undefined;
      if (rel !== undefined) {
        current = new Map();
        out.set(rel, current);
      }
    } else if (current && line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      const name = eq === -1 ? line : line.slice(0, eq);
      let raw = eq === -1 ? '' : line.slice(eq + 1);
      if (raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
      current.set(name, raw.startsWith('0x') ? Buffer.from(raw.slice(2), 'hex') : Buffer.from(raw, 'latin1'));
    }
  }
  return out;
}

/** getfattr quotes file names: `\\` and octal `\ooo` escapes. */
function unescapeGetfattr(s: string): string {
  return s.replace(/\\(\\|[0-7]{3})/g, (_m, g: string) => (g === '\\' ? '\\' : String.fromCharCode(parseInt(g, 8))));
}

interface Header {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  const s = Math.max(0, Math.floor(value)).toString(8).padStart(len - 1, '0');
  buf.write(s.slice(-(len - 1)), off, len - 1, 'ascii');
  buf[off + len - 1] = 0;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

function rawHeader(h: Header, name: string, linkname: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156);
  b.write(h.type, 156, 1, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'ascii');
  octal(b, 329, 8, h.devmajor ?? 0);
  octal(b, 337, 8, h.devminor ?? 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return b;
}

const fits = (s: string, n: number): boolean => Buffer.byteLength(s) <= n && /^[\x20-\x7e]*$/.test(s);

/** The header block(s) for an entry: a PAX header first when a field does not fit ustar. */
export function encodeHeader(h: Header): Buffer {
  const records: Buffer[] = [];
  let name = h.name;
  let link = h.linkname ?? '';
  if (!fits(name, 100)) {
    records.push(paxRecord('path', Buffer.from(name, 'utf8')));
    name = Buffer.from(name, 'utf8').subarray(0, 99).toString('latin1').replace(/[^\x20-\x7e]/g, '_');
  }
  if (!fits(link, 100)) {
    records.push(paxRecord('linkpath', Buffer.from(link, 'utf8')));
    link = '';
  }
  const big = { size: h.size, uid: h.uid, gid: h.gid };
  if (h.size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(h.size))));
  if (h.uid > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  for (const [k, v] of [...(h.xattrs ?? new Map<string, Buffer>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  }
  const main = rawHeader(
    { ...h, size: big.size > 0o77777777777 ? 0 : h.size, uid: big.uid > 0o7777777 ? 0 : h.uid, gid: big.gid > 0o7777777 ? 0 : h.gid },
    name,
    link,
  );
  if (!records.length) return main;
  const pax = Buffer.concat(records);
  const paxHeader = rawHeader({ name: '', mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: h.mtime, type: 'x' }, 'PaxHeaders/' + name.slice(0, 80), '');
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - r);
}

function fileType(st: Stats): string | undefined {
  if (st.isFile()) return '0';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isDirectory()) return '5';
  if (st.isFIFO()) return '6';
  return undefined; // sockets are not archived
}

const major = (rdev: number): number => ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfff);
const minor = (rdev: number): number => (rdev & 0xff) | ((rdev >> 12) & ~0xff);

/** The tar stream of `root`, in layer format. */
export function layerTar(root: string, opts: TarWriterOptions = {}): Readable {
  return Readable.from(generate(root, opts), { objectMode: false, highWaterMark: 1 });
}

/**
 * Output in large chunks: headers and file contents are gathered into CHUNK-sized buffers (file
 * data is read straight into them), so the consumers (hash, compressor pipe, upload) see a few
 * hundred big writes instead of one or more small buffers per entry. Reads are synchronous: a
 * chunk is produced between two turns of the event loop.
 */
const CHUNK = 4 << 20;

class Out {
  buf = Buffer.allocUnsafe(CHUNK);
  pos = 0;
  /** The full buffer, replaced by a fresh one (the consumer keeps the old one). */
  take(): Buffer {
    const b = this.buf;
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    return b;
  }
  *put(b: Buffer): Generator<Buffer> {
    let off = 0;
    while (off < b.length) {
      const n = Math.min(b.length - off, CHUNK - this.pos);
      b.copy(this.buf, this.pos, off, off + n);
      this.pos += n;
      off += n;
      if (this.pos === CHUNK) yield this.take();
    }
  }
  *zeros(len: number): Generator<Buffer> {
    while (len > 0) {
      const n = Math.min(len, CHUNK - this.pos);
      this.buf.fill(0, this.pos, this.pos + n);
      this.pos += n;
      len -= n;
      if (this.pos === CHUNK) yield this.take();
    }
  }
  /** Exactly `size` bytes of the file (zero-padded if it shrank, cut if it grew), then block padding. */
  *file(path: string, size: number): Generator<Buffer> {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      let done = 0;
      while (done < size) {
        const n = readSync(fd, this.buf, this.pos, Math.min(size - done, CHUNK - this.pos), done);
        if (n === 0) {
          yield* this.zeros(size - done);
          break;
        }
        this.pos += n;
        done += n;
        if (this.pos === CHUNK) yield this.take();
      }
    } finally {
      closeSync(fd);
    }
    const r = size % BLOCK;
    if (r) yield* this.zeros(BLOCK - r);
  }
}

async function* generate(root: string, opts: TarWriterOptions): AsyncGenerator<Buffer> {
  const xattrs = await readXattrs(root);
  const links = new Map<string, string>();
  const out = new Out();
  // Depth-first, names sorted byte-wise, each directory before its contents.
  // Each directory is opened with O_NOFOLLOW through its parent's fd (/proc/self/fd/N/name), so a
  // running container that swaps a directory for a symlink (commit) cannot redirect the walk
  // outside the tree (CVE-2018-15664 shape).
  function* walk(rel: string, dirFd: number): Generator<Buffer> {
    const self = `/proc/self/fd/${dirFd}`;
    const names = readdirSync(self).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const p = `${self}/${n}`;
      let st: Stats;
      try {
        st = lstatSync(p, { bigint: false });
      } catch {
        continue; // gone meanwhile
      }
      const type = fileType(st);
      if (!type) continue;
      const mtime = Math.floor(st.mtimeMs / 1000);
      const own = xattrs.get(r);
      const kept = new Map<string, Buffer>();
      let opaque = false;
      for (const [k, v] of own ?? []) {
        if (OPAQUE_KEYS.includes(k)) opaque = v.toString() === 'y';
        else if (!k.startsWith('trusted.') && !/^user\.overlay\./.test(k)) kept.set(k, v);
      }
      const base = { mode: st.mode, uid: st.uid, gid: st.gid, mtime, xattrs: kept.size ? kept : undefined };
      if (!opts.plain && type === '3' && st.rdev === 0) {
        // The extractor does not keep a whiteout's time: 0 keeps the tar (and the diff ID) stable.
        yield* out.put(encodeHeader({ ...base, name: rel ? `${rel}/.wh.${n}` : `.wh.${n}`, mtime: 0, size: 0, type: '0', xattrs: undefined }));
        continue;
      }
      if (type === '5') {
        yield* out.put(encodeHeader({ ...base, name: `${r}/`, size: 0, type }));
        if (!opts.plain && opaque) yield* out.put(encodeHeader({ ...base, name: `${r}/.wh..wh..opq`, mode: 0o644, size: 0, type: '0', xattrs: undefined }));
        let fd: number;
        try {
          fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        } catch (e) {
          throw new TspodError('storage', `archiving ${r}: ${(e as Error).message}`);
        }
        try {
          yield* walk(r, fd);
        } finally {
          closeSync(fd);
        }
        continue;
      }
      if (type === '2') {
        yield* out.put(encodeHeader({ ...base, name: r, size: 0, type, linkname: readlinkSync(p) }));
        continue;
      }
      if (type === '3' || type === '4' || type === '6') {
        yield* out.put(encodeHeader({ ...base, name: r, size: 0, type, devmajor: major(st.rdev), devminor: minor(st.rdev) }));
        continue;
      }
      // A regular file: a hard link to an earlier one, or its contents.
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          yield* out.put(encodeHeader({ ...base, name: r, size: 0, type: '1', linkname: first }));
          continue;
        }
        links.set(key, r);
      }
      yield* out.put(encodeHeader({ ...base, name: r, size: st.size, type: '0' }));
      yield* out.file(p, st.size);
    }
  }
  const rootFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    yield* walk('', rootFd);
  } finally {
    closeSync(rootFd);
  }
  yield* out.zeros(2 * BLOCK);
  if (out.pos) yield out.buf.subarray(0, out.pos);
}
