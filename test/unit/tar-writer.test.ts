// The layer tar writer (src/engine/tar-writer.ts) and the archive tar reader (archive-tar.ts):
// overlay whiteouts and opaque dirs become .wh. entries, hard links, symlinks, long names and
// xattrs survive, the output is deterministic and GNU tar reads it. Runs as root (mknod).
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerTar } from '../../src/engine/tar-writer.js';
import { readTar, type TarEntry } from '../../src/engine/archive-tar.js';

let dir = '';
const LONG = `${'d'.repeat(90)}/${'f'.repeat(120)}.txt`;

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tspod-tarw-'));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'a'), 'hello\n');
  linkSync(join(root, 'etc', 'a'), join(root, 'etc', 'b'));
  symlinkSync('../etc/a', join(root, 'link'));
  execFileSync('mknod', [join(root, 'etc', 'gone'), 'c', '0', '0']);
  mkdirSync(join(root, 'opaque'));
  writeFileSync(join(root, 'opaque', 'new'), 'n');
  execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', join(root, 'opaque')]);
  execFileSync('setfattr', ['-n', 'user.tspod', '-v', 'yes', join(root, 'etc', 'a')]);
  mkdirSync(join(root, 'd'.repeat(90)));
  writeFileSync(join(root, LONG), 'long');
  for (const p of ['etc/a', 'opaque/new', 'opaque', 'etc', LONG, 'd'.repeat(90)]) utimesSync(join(root, p), 1_700_000_000, 1_700_000_000);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('layerTar', () => {
  it('converts overlay markers and keeps links, long names and xattrs', async () => {
    const tar = await collect(layerTar(join(dir, 'root')));
    expect(tar.length % 512).toBe(0);
    const entries: Array<TarEntry & { body: string }> = [];
    await readTar(Readable.from([tar]), async (e, body) => {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c);
      entries.push({ ...e, body: Buffer.concat(chunks).toString() });
    });
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(entries.map((e) => e.name)).toEqual([
      `${'d'.repeat(90)}/`,
      LONG,
      'etc/',
      'etc/a',
      'etc/b',
      'etc/.wh.gone',
      'link',
      'opaque/',
      'opaque/.wh..wh..opq',
      'opaque/new',
    ]);
    expect(byName.get('etc/a')).toMatchObject({ type: '0', body: 'hello\n' });
    expect(byName.get('etc/b')).toMatchObject({ type: '1', linkname: 'etc/a', size: 0 });
    expect(byName.get('link')).toMatchObject({ type: '2', linkname: '../etc/a' });
    expect(byName.get(LONG)).toMatchObject({ type: '0', body: 'long' });
    // GNU tar agrees, and sees the xattr.
    const listing = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvv', '-f', '-'], { input: tar, encoding: 'utf8' });
    expect(listing).toContain(LONG);
    expect(listing).toContain('user.tspod');
    expect(listing).not.toContain('overlay');
  });

  it('is deterministic', async () => {
    const a = await collect(layerTar(join(dir, 'root')));
    const b = await collect(layerTar(join(dir, 'root')));
    expect(a.equals(b)).toBe(true);
  });
});
