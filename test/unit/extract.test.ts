// Tests for build/tspod-extract (src/native/extract): hostile archives built by hand, extracted into a
// fresh directory next to a canary directory that must never change. Runs as root (the test host).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// TSPOD_EXTRACT_BIN runs the suite against another build (e.g. one with -fsanitize=address).
const bin = process.env.TSPOD_EXTRACT_BIN ?? path.join(repo, 'build/tspod-extract');
const isRoot = process.getuid?.() === 0;

// ---------- a tiny tar writer, byte by byte, so archives can lie ----------

interface Entry {
  name: string;
  type?: string; // '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, ...
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  size?: bigint | number; // header size when it differs from the data
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string | Buffer>;
  gnuLongName?: boolean;
  badChecksum?: boolean;
}

function octal(buf: Buffer, off: number, len: number, value: number | bigint): void {
  const v = BigInt(value);
  const s = v.toString(8);
  if (s.length <= len - 1) {
    buf.write(s.padStart(len - 1, '0') + '\0', off, 'latin1');
    return;
  }
  // GNU base-256
  let x = v;
  for (let i = len - 1; i >= 1; i--) {
    buf[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  buf[off] = 0x80;
}

function header(e: Entry, opts: { gnu?: boolean } = {}): Buffer {
  const h = Buffer.alloc(512);
  const name = Buffer.from(e.name);
  if (name.length > 100) throw new Error(`test bug: ${e.name} is too long for a plain header`);
  name.copy(h, 0);
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  octal(h, 100, 8, e.mode ?? (e.type === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, e.size ?? data.length);
  octal(h, 136, 12, e.mtime ?? 1_600_000_000);
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname) Buffer.from(e.linkname).copy(h, 157);
  if (opts.gnu) h.write('ustar  \0', 257, 'latin1');
  else h.write('ustar\x0000', 257, 'latin1');
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function paxBody(records: Record<string, string | Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const kv = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let len = kv.length + 1;
    while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
    out.push(Buffer.from(String(len)), kv);
  }
  return Buffer.concat(out);
}

function tar(entries: Entry[], opts: { end?: boolean; trailer?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  for (let e of entries) {
    if (e.pax) {
      const body = paxBody(e.pax);
      parts.push(header({ name: 'PaxHeader/x', type: 'x', data: body }), pad(body));
    }
    if (e.gnuLongName) {
      const body = Buffer.from(e.name + '\0');
      parts.push(header({ name: '././@LongLink', type: 'L', data: body }, { gnu: true }), pad(body));
      e = { ...e, name: e.name.slice(0, 99) };
    }
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    parts.push(header(e, { gnu: e.gnuLongName }), pad(data));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024 + (opts.trailer ?? 0)));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// ---------- running the extractor ----------

interface Result {
  code: number | null;
  out: any;
  stdout: string;
  stderr: string;
  dest: string;
}

const roots: string[] = [];
let current: { root: string; dest: string; canary: string } | undefined;

function fresh() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-extract-'));
  roots.push(root);
  const dest = path.join(root, 'dest');
  const canary = path.join(root, 'canary');
  fs.mkdirSync(dest);
  fs.mkdirSync(canary);
  fs.chmodSync(canary, 0o755);
  fs.writeFileSync(path.join(canary, 'keep'), 'keep');
  fs.chmodSync(path.join(canary, 'keep'), 0o644);
  current = { root, dest, canary };
  return current;
}

function extract(input: Buffer, args: string[] = [], wrap: string[] = []): Result {
  const { dest } = fresh();
  const argv = [...wrap, bin, ...args, dest];
  const r = spawnSync(argv[0], argv.slice(1), { input, timeout: 20_000, maxBuffer: 1 << 20 });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  const stdout = r.stdout.toString();
  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines, `one JSON line on stdout, got: ${stdout} / stderr: ${r.stderr}`).toHaveLength(1);
  return { code: r.status, out: JSON.parse(lines[0]), stdout, stderr: r.stderr.toString(), dest };
}

function expectOk(r: Result) {
  expect(r.out.error, r.stdout + r.stderr).toBeUndefined();
  expect(r.code).toBe(0);
  expect(r.out.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
}

function expectError(r: Result, entry: string, message: RegExp) {
  expect(r.code, r.stdout).toBe(1);
  expect(r.out.entry).toBe(entry);
  expect(r.out.error).toMatch(message);
}

/** Nothing was created or changed next to DEST. */
function expectCanaryIntact() {
  if (!current) return;
  expect(fs.readdirSync(current.root).sort()).toEqual(['canary', 'dest']);
  expect(fs.readdirSync(current.canary)).toEqual(['keep']);
  expect(fs.readFileSync(path.join(current.canary, 'keep'), 'utf8')).toBe('keep');
  expect(fs.lstatSync(path.join(current.canary, 'keep')).nlink).toBe(1);
  expect(fs.lstatSync(path.join(current.canary, 'keep')).mode & 0o7777).toBe(0o644);
  expect(fs.lstatSync(current.canary).mode & 0o7777).toBe(0o755);
}

function getxattr(p: string, name: string): string | undefined {
  try {
    return execFileSync('getfattr', ['-h', '--only-values', '-n', name, p], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString();
  } catch {
    return undefined;
  }
}

beforeAll(() => {
  execFileSync('make', ['-s', '-C', path.join(repo, 'src/native'), '../../build/tspod-extract'], { stdio: 'inherit' });
});

afterEach(() => {
  expectCanaryIntact();
  current = undefined;
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('tspod-extract', () => {
  describe('normal layers', () => {
    const layer = tar([
      { name: 'etc/', type: '5', mode: 0o755, mtime: 1_500_000_000 },
      { name: 'etc/hostname', data: 'box\n', mode: 0o644, uid: 1000, gid: 1001, mtime: 1_500_000_100 },
      { name: 'usr/bin/su', data: 'ELF', mode: 0o4755, mtime: 1_500_000_200 },
      { name: 'usr/bin/wall', data: 'ELF2', mode: 0o2755, gid: 5 },
      { name: 'tmp/', type: '5', mode: 0o1777 },
      { name: 'usr/bin/sh', type: '2', linkname: 'dash', uid: 7, gid: 8, mtime: 1_400_000_000 },
      { name: 'usr/bin/su2', type: '1', linkname: 'usr/bin/su' },
      {
        name: 'usr/share/x',
        data: 'x',
        pax: { 'SCHILY.xattr.user.test': 'hello', mtime: '1600000000.123456789', uid: '4242' },
      },
      { name: 'run/fifo', type: '6', mode: 0o600 },
      { name: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
    ]);

    it('extracts files, dirs, symlinks, hardlinks with owner, mode, setuid, mtime and xattrs', () => {
      const r = extract(layer);
      expectOk(r);
      expect(r.out).toMatchObject({ size: layer.length, entries: 10, skippedDevices: 0, skippedXattrs: 0 });
      expect(r.out.diffId).toBe(`sha256:${sha256(layer)}`);
      const d = r.dest;
      const host = fs.lstatSync(path.join(d, 'etc/hostname'));
      expect(fs.readFileSync(path.join(d, 'etc/hostname'), 'utf8')).toBe('box\n');
      expect([host.uid, host.gid, host.mode & 0o7777, host.mtimeMs]).toEqual([1000, 1001, 0o644, 1_500_000_100_000]);
      expect(fs.lstatSync(path.join(d, 'usr/bin/su')).mode & 0o7777).toBe(0o4755);
      expect(fs.lstatSync(path.join(d, 'usr/bin/wall')).mode & 0o7777).toBe(0o2755);
      expect(fs.lstatSync(path.join(d, 'usr/bin/wall')).gid).toBe(5);
      expect(fs.lstatSync(path.join(d, 'tmp')).mode & 0o7777).toBe(0o1777);
      expect(fs.lstatSync(path.join(d, 'etc')).mtimeMs).toBe(1_500_000_000_000);
      const sh = fs.lstatSync(path.join(d, 'usr/bin/sh'));
      expect(sh.isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(path.join(d, 'usr/bin/sh'))).toBe('dash');
      expect([sh.uid, sh.gid, sh.mtimeMs]).toEqual([7, 8, 1_400_000_000_000]);
      const su = fs.lstatSync(path.join(d, 'usr/bin/su'));
      expect(fs.lstatSync(path.join(d, 'usr/bin/su2')).ino).toBe(su.ino);
      expect(su.nlink).toBe(2);
      const x = fs.lstatSync(path.join(d, 'usr/share/x'), { bigint: true });
      expect(x.mtimeNs).toBe(1_600_000_000_123_456_789n);
      expect(x.uid).toBe(4242n);
      expect(getxattr(path.join(d, 'usr/share/x'), 'user.test')).toBe('hello');
      expect(fs.lstatSync(path.join(d, 'run/fifo')).isFIFO()).toBe(true);
      expect(fs.lstatSync(path.join(d, 'run/fifo')).mode & 0o7777).toBe(0o600);
      const dev = fs.lstatSync(path.join(d, 'dev/null'));
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe(259); // makedev(1, 3)
      // implicit parents: 0755 root
      const usr = fs.lstatSync(path.join(d, 'usr'));
      expect([usr.mode & 0o7777, usr.uid, usr.gid]).toEqual([0o755, 0, 0]);
    });

    it('skips device nodes with --rootless and counts them', () => {
      const r = extract(layer, ['--rootless']);
      expectOk(r);
      expect(r.out).toMatchObject({ entries: 10, skippedDevices: 1 });
      expect(fs.existsSync(path.join(r.dest, 'dev/null'))).toBe(false);
      expect(fs.lstatSync(path.join(r.dest, 'run/fifo')).isFIFO()).toBe(true);
    });

    it('auto-detects gzip (multi-member), zstd and plain; diffId is the sha256 of the tar', () => {
      const want = `sha256:${sha256(layer)}`;
      const half = layer.length >> 1;
      const gz = Buffer.concat([zlib.gzipSync(layer.subarray(0, half)), zlib.gzipSync(layer.subarray(half))]);
      const zst = execFileSync('zstd', ['-q', '-c'], { input: layer });
      for (const input of [layer, zlib.gzipSync(layer), gz, zst]) {
        const r = extract(input);
        expectOk(r);
        expect(r.out.diffId).toBe(want);
        expect(r.out.size).toBe(layer.length);
        expect(fs.readFileSync(path.join(r.dest, 'etc/hostname'), 'utf8')).toBe('box\n');
        fs.rmSync(current!.dest, { recursive: true, force: true });
        fs.mkdirSync(current!.dest);
      }
    });

    it('hashes everything after the end-of-archive blocks too', () => {
      const t = tar([{ name: 'a', data: 'a' }], { trailer: 9 * 1024 + 100 });
      const r = extract(zlib.gzipSync(t));
      expectOk(r);
      expect(r.out).toMatchObject({ diffId: `sha256:${sha256(t)}`, size: t.length, entries: 1 });
    });

    it('accepts GNU long names, PAX long paths and linkpaths, base-256 numbers', () => {
      const long = 'd/' + 'n'.repeat(150) + '/' + 'f'.repeat(200);
      const t = tar([
        { name: long, data: 'long', gnuLongName: true, uid: 2 ** 21 + 5 }, // uid needs base-256 in 8 bytes
        { name: 'short', data: 'p', pax: { path: long + '2' } },
        { name: 'lnk', type: '2', pax: { linkpath: 'x'.repeat(300) } },
        { name: 'g', type: 'g', data: paxBody({ comment: 'global' }) },
      ]);
      const r = extract(t);
      expectOk(r);
      expect(fs.readFileSync(path.join(r.dest, long), 'utf8')).toBe('long');
      expect(fs.lstatSync(path.join(r.dest, long)).uid).toBe(2 ** 21 + 5);
      expect(fs.readFileSync(path.join(r.dest, long + '2'), 'utf8')).toBe('p');
      expect(fs.readlinkSync(path.join(r.dest, 'lnk'))).toBe('x'.repeat(300));
    });

    it('repeated directory entries and explicit entries for implicit parents only change metadata', () => {
      const t = tar([
        { name: 'a/b/file', data: 'f' },
        { name: 'a/', type: '5', mode: 0o700, uid: 3 },
        { name: 'a/', type: '5', mode: 0o750, uid: 4 },
      ]);
      const r = extract(t);
      expectOk(r);
      const a = fs.lstatSync(path.join(r.dest, 'a'));
      expect([a.mode & 0o7777, a.uid]).toEqual([0o750, 4]);
      expect(fs.readFileSync(path.join(r.dest, 'a/b/file'), 'utf8')).toBe('f');
    });

    it('accepts an archive without end-of-archive blocks, and many repeated directory entries', () => {
      const entries: Entry[] = [];
      for (let i = 0; i < 2000; i++) entries.push({ name: `d${i % 3}/`, type: '5', mode: 0o700 + (i % 8) });
      const t = tar(entries, { end: false });
      const r = extract(t);
      expectOk(r);
      expect(r.out).toMatchObject({ entries: 2000, size: t.length });
      expect(fs.lstatSync(path.join(r.dest, 'd1')).mode & 0o7777).toBe(0o700 + (1999 % 8));
    });

    it('an entry named "." or "/" sets the root metadata only', () => {
      for (const name of ['./', '.', '/']) {
        const r = extract(tar([{ name, type: '5', mode: 0o750, mtime: 1_234_567_890 }, { name: 'f', data: '' }]));
        expectOk(r);
        const st = fs.lstatSync(r.dest);
        expect(st.isDirectory()).toBe(true);
        expect(st.mode & 0o7777).toBe(0o750);
        expect(st.mtimeMs).toBe(1_234_567_890_000);
      }
    });

    it('absolute symlink parents resolve inside the layer', () => {
      const r = extract(
        tar([
          { name: 'l', type: '2', linkname: '/etc' },
          { name: 'etc/', type: '5' },
          { name: 'l/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
          { name: 'lib', type: '2', linkname: 'usr/lib' },
          { name: 'lib/x', data: 'x' },
          { name: 'up', type: '2', linkname: '/../../../etc' }, // ".." at the root of an absolute target
        ]),
      );
      // "/../" climbs above the root: refused only when used as a parent
      expectOk(r);
      expect(fs.readFileSync(path.join(r.dest, 'etc/passwd'), 'utf8')).toMatch(/^root/);
      expect(fs.readFileSync(path.join(r.dest, 'usr/lib/x'), 'utf8')).toBe('x');
      expect(fs.lstatSync(path.join(r.dest, 'l')).isSymbolicLink()).toBe(true);
    });

    it('sets the overlay opaque xattr and makes 0:0 whiteouts', () => {
      const t = tar([
        { name: 'd/.wh..wh..opq', data: '' },
        { name: '.wh.gone', data: '' },
        { name: 'd/.wh.x', data: '' },
      ]);
      let r = extract(t);
      expectOk(r);
      for (const p of ['gone', 'd/x']) {
        const st = fs.lstatSync(path.join(r.dest, p));
        expect(st.isCharacterDevice()).toBe(true);
        expect(st.rdev).toBe(0);
      }
      expect(fs.existsSync(path.join(r.dest, '.wh.gone'))).toBe(false);
      expect(getxattr(path.join(r.dest, 'd'), 'trusted.overlay.opaque')).toBe('y');
      r = extract(t, ['--rootless']);
      expectOk(r);
      expect(getxattr(path.join(r.dest, 'd'), 'user.overlay.opaque')).toBe('y');
      expect(getxattr(path.join(r.dest, 'd'), 'trusted.overlay.opaque')).toBeUndefined();
    });

    it('never takes overlay xattrs from the archive', () => {
      const r = extract(
        tar([{ name: 'f', data: '', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/x', 'SCHILY.xattr.user.ok': '1' } }]),
      );
      expectOk(r);
      expect(r.out.skippedXattrs).toBe(1);
      expect(getxattr(path.join(r.dest, 'f'), 'trusted.overlay.redirect')).toBeUndefined();
      expect(getxattr(path.join(r.dest, 'f'), 'user.ok')).toBe('1');
    });
  });

  describe('hostile names', () => {
    it.each([
      ['../canary/pwned', /escapes the layer root/],
      ['/abs', /absolute/],
      ['/tmp/pwned', /absolute/],
      ['a/../../canary/pwned', /escapes the layer root/],
      ['a/../..', /escapes the layer root/],
    ])('refuses %s', (name, msg) => {
      const r = extract(tar([{ name: 'ok', data: '' }, { name, data: 'pwned' }]));
      expectError(r, name, msg);
    });

    it('refuses names longer than 4096 bytes', () => {
      const name = 'a/'.repeat(2100) + 'f';
      const r = extract(tar([{ name: 'short', data: 'x', pax: { path: name } }]));
      expectError(r, name.slice(0, 4096), /longer than 4096/); // the reported name is capped too
    });

    it('refuses a symlink parent that climbs out (l -> ../.. then l/x)', () => {
      for (const target of ['../..', '..', '../canary', 'a/../../canary', '/../canary', '/..']) {
        const r = extract(
          tar([
            { name: 'a/', type: '5' },
            { name: 'l', type: '2', linkname: target },
            { name: 'l/pwned', data: 'pwned' },
          ]),
        );
        expectError(r, 'l/pwned', /escapes the layer/);
        expectCanaryIntact();
      }
    });

    it('refuses a chain of symlinks that climbs out, and symlink loops', () => {
      let r = extract(
        tar([
          { name: 'a/b/', type: '5' },
          { name: 'a/b/up', type: '2', linkname: '../../..' },
          { name: 'l', type: '2', linkname: 'a/b/up/canary' },
          { name: 'l/pwned', data: 'x' },
        ]),
      );
      expectError(r, 'l/pwned', /escapes the layer/);
      expectCanaryIntact();
      r = extract(
        tar([
          { name: 'x', type: '2', linkname: 'y' },
          { name: 'y', type: '2', linkname: 'x' },
          { name: 'x/f', data: '' },
        ]),
      );
      expectError(r, 'x/f', /symbolic links/);
    });

    it('never makes the root a symlink', () => {
      const r = extract(tar([{ name: './', type: '2', linkname: '/etc' }]));
      expectError(r, './', /layer root must be a directory/);
      expect(fs.lstatSync(r.dest).isDirectory()).toBe(true);
    });

    it('never applies a directory entry through an existing symlink (no chmod through)', () => {
      const r = extract(
        tar([
          { name: 'l', type: '2', linkname: '../canary' },
          { name: 'l/', type: '5', mode: 0o777 },
        ]),
      );
      expectError(r, 'l/', /duplicate entry/);
      expect(fs.lstatSync(current!.canary).mode & 0o7777).toBe(0o755);
    });

    it('refuses a PAX path with a NUL byte', () => {
      const r = extract(tar([{ name: 'f', data: '', pax: { path: Buffer.from('a\0b') } }]));
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/NUL/);
    });

    it('refuses a final component that is an existing symlink (no write through)', () => {
      const r = extract(
        tar([
          { name: 'l', type: '2', linkname: '../canary/keep' },
          { name: 'l', data: 'pwned' },
        ]),
      );
      expectError(r, 'l', /duplicate entry/);
    });
  });

  describe('hardlinks', () => {
    it.each([
      ['../canary/keep', /escapes the layer root/],
      ['/etc/passwd', /absolute/],
      ['missing', /not in the layer/],
      ['l/keep', /escapes the layer/],
      ['dir', /is a directory/],
    ])('refuses a hardlink to %s', (target, msg) => {
      const r = extract(
        tar([
          { name: 'l', type: '2', linkname: '../canary' },
          { name: 'dir/', type: '5' },
          { name: 'h', type: '1', linkname: target },
        ]),
      );
      expectError(r, 'h', msg);
    });

    it('links through an in-layer symlink parent', () => {
      const r = extract(
        tar([
          { name: 'usr/lib/a', data: 'a' },
          { name: 'lib', type: '2', linkname: '/usr/lib' },
          { name: 'h', type: '1', linkname: 'lib/a' },
        ]),
      );
      expectOk(r);
      expect(fs.lstatSync(path.join(r.dest, 'h')).ino).toBe(fs.lstatSync(path.join(r.dest, 'usr/lib/a')).ino);
    });

    it('links a symlink itself, not its target', () => {
      const r = extract(
        tar([
          { name: 's', type: '2', linkname: '../canary/keep' },
          { name: 'h', type: '1', linkname: 's' },
        ]),
      );
      expectOk(r);
      expect(fs.lstatSync(path.join(r.dest, 'h')).isSymbolicLink()).toBe(true);
    });
  });

  describe('whiteouts', () => {
    it.each([
      ['../.wh.x', '../.wh.x', /escapes the layer root/],
      ['.wh..', '.wh..', /invalid whiteout/],
      ['.wh...', '.wh...', /invalid whiteout/],
      ['d/.wh.', 'd/.wh.', /invalid whiteout/],
      ['/.wh.x', '/.wh.x', /absolute/],
    ])('refuses %s', (name, entry, msg) => {
      const r = extract(tar([{ name, data: '' }]));
      expectError(r, entry, msg);
    });

    it('refuses whiteouts and opaque markers under a symlinked parent', () => {
      for (const name of ['l/.wh.keep', 'l/.wh..wh..opq']) {
        const r = extract(
          tar([
            { name: 'l', type: '2', linkname: '../canary' },
            { name, data: '' },
          ]),
        );
        expectError(r, name, /symlink/);
        expectCanaryIntact();
      }
      const r = extract(
        tar([
          { name: 'd/', type: '5' },
          { name: 'l', type: '2', linkname: 'd' },
          { name: 'l/.wh.x', data: '' },
        ]),
      );
      expectError(r, 'l/.wh.x', /symlink/);
    });

    it('refuses a whiteout for an entry of the same layer, and an entry for a whited-out name', () => {
      let r = extract(tar([{ name: 'foo', data: '' }, { name: '.wh.foo', data: '' }]));
      expectError(r, '.wh.foo', /already has/);
      r = extract(tar([{ name: '.wh.foo', data: '' }, { name: 'foo', data: '' }]));
      expectError(r, 'foo', /duplicate entry/);
      r = extract(tar([{ name: 'a/b', data: '' }, { name: '.wh.a', data: '' }]));
      expectError(r, '.wh.a', /already has/);
    });
  });

  describe('duplicates', () => {
    it.each([
      [[{ name: 'f', data: '1' }, { name: 'f', data: '2' }], 'f'],
      [[{ name: 'f', data: '1' }, { name: 'f/', type: '5' }], 'f/'],
      [[{ name: 'd/', type: '5' }, { name: 'd', data: '2' }], 'd'],
      [[{ name: 'd/x', data: '' }, { name: 'd', type: '2', linkname: '/' }], 'd'],
      [[{ name: 'p', type: '6' }, { name: 'p', type: '6' }], 'p'],
      [[{ name: 'f', data: '' }, { name: 'h', type: '1', linkname: 'f' }, { name: 'h', type: '1', linkname: 'f' }], 'h'],
    ] as [Entry[], string][])('refuses duplicate %#', (entries, entry) => {
      const r = extract(tar(entries));
      expectError(r, entry, /duplicate entry/);
    });
  });

  describe('broken and hostile streams', () => {
    const good = tar([{ name: 'big', data: Buffer.alloc(300_000, 7) }, { name: 'small', data: 'x' }]);

    it('truncated gzip', () => {
      const gz = zlib.gzipSync(good);
      const r = extract(gz.subarray(0, gz.length - 20));
      expectError(r, '', /truncated gzip/);
    });

    it('truncated zstd', () => {
      const zst = execFileSync('zstd', ['-q', '-c'], { input: good });
      const r = extract(zst.subarray(0, zst.length - 10));
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/zstd/);
    });

    it('corrupt gzip', () => {
      const gz = Buffer.from(zlib.gzipSync(good));
      for (let i = 40; i < 80; i++) gz[i] ^= 0x55;
      const r = extract(gz);
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/invalid gzip stream/);
    });

    it('truncated tar data names the entry', () => {
      const r = extract(good.subarray(0, 100_000));
      expectError(r, 'big', /truncated/);
    });

    it('non-tar garbage fails fast without hanging', () => {
      const junk = Buffer.alloc(4 << 20);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) & 0xff;
      const t0 = Date.now();
      const r = extract(junk);
      expectError(r, '', /not a tar archive/);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(extract(Buffer.from('hello')).out.error).toMatch(/truncated/);
    });

    it('bad header checksum', () => {
      const r = extract(tar([{ name: 'a', data: 'a', badChecksum: true }]));
      expectError(r, '', /checksum/);
    });

    it('refuses a header size above --max-size at once', () => {
      const t = Buffer.concat([header({ name: 'huge', size: 2n ** 40n }), Buffer.alloc(1024)]);
      let r = extract(t, ['--max-size', '100000']);
      expectError(r, 'huge', /exceeds the limit/);
      r = extract(t); // default limit 32 GiB
      expectError(r, 'huge', /exceeds the limit/);
    });

    it('bounds the decompressed size (zip bomb)', () => {
      const bomb = zlib.gzipSync(Buffer.alloc(64 << 20));
      const r = extract(bomb, ['--max-size', String(8 << 20)]);
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/decompressed size exceeds 8388608/);
    });

    it('caps PAX headers at 1 MiB', () => {
      const r = extract(tar([{ name: 'f', data: '', pax: { comment: 'c'.repeat((1 << 20) + 10) } }]));
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/exceeds the 1 MiB limit/);
    });

    it('refuses sparse files, naming the entry', () => {
      let r = extract(tar([{ name: 'sparse', type: 'S', data: 'x' }]));
      expectError(r, 'sparse', /sparse/);
      r = extract(tar([{ name: 'sp2', data: 'x', pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' } }]));
      expect(r.code).toBe(1);
      expect(r.out.error).toMatch(/sparse/);
    });

    it('refuses unknown entry types, naming the entry', () => {
      const r = extract(tar([{ name: 'vol', type: 'V' }]));
      expectError(r, 'vol', /unsupported tar entry type 'V'/);
    });

    it('refuses a non-empty destination', () => {
      const { dest } = fresh();
      fs.writeFileSync(path.join(dest, 'x'), '');
      const r = spawnSync(bin, [dest], { input: tar([]) });
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout.toString()).error).toMatch(/not empty/);
    });
  });

  describe('user namespaces', () => {
    it('names an unmapped uid', () => {
      // unshare --map-root-user maps only uid 0: any other id is unmapped
      const r = extract(tar([{ name: 'f', data: '', uid: 300000 }]), ['--rootless'], ['unshare', '--user', '--map-root-user']);
      expectError(r, 'f', /^uid 300000 is not mapped in the user namespace \(the subordinate id range is too small\)$/);
    });

    it('rootless in a user namespace: skips trusted.* xattrs, makes whiteouts and user.overlay.opaque', () => {
      const r = extract(
        tar([
          { name: 'f', data: '', pax: { 'SCHILY.xattr.trusted.x': 'y', 'SCHILY.xattr.user.y': 'z' } },
          { name: 'd/.wh..wh..opq', data: '' },
          { name: 'd/.wh.gone', data: '' },
        ]),
        ['--rootless'],
        ['unshare', '--user', '--map-root-user'],
      );
      expectOk(r);
      expect(r.out.skippedXattrs).toBe(1);
      expect(getxattr(path.join(r.dest, 'f'), 'user.y')).toBe('z');
      expect(getxattr(path.join(r.dest, 'd'), 'user.overlay.opaque')).toBe('y');
      expect(fs.lstatSync(path.join(r.dest, 'd/gone')).isCharacterDevice()).toBe(true);
    });
  });
});
