import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandGlob, isArchive, loadIgnore, resolveSource, stageCopy } from '../../src/build/context.js';

let dir: string;
let ctx: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'build-ctx-'));
  ctx = join(dir, 'ctx');
  mkdirSync(join(ctx, 'sub'), { recursive: true });
  writeFileSync(join(ctx, 'a.txt'), 'a');
  writeFileSync(join(ctx, 'sub', 'b.txt'), 'b');
  writeFileSync(join(ctx, 'sub', 'c.log'), 'c');
  writeFileSync(join(dir, 'outside'), 'secret');
  symlinkSync('/etc', join(ctx, 'hostetc'));
  symlinkSync('../outside', join(ctx, 'up'));
  symlinkSync('../../../../../etc/passwd', join(ctx, 'sub', 'deep'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sources resolve inside the context (CVE-2024-1753)', () => {
  it('symlinks are interpreted inside the context and clamped at its root', () => {
    expect(resolveSource(ctx, 'hostetc/passwd')).toBe('etc/passwd');
    expect(existsSync(join(ctx, resolveSource(ctx, 'hostetc/passwd')))).toBe(false);
    expect(resolveSource(ctx, 'up')).toBe('outside');
    expect(resolveSource(ctx, 'sub/deep')).toBe('etc/passwd');
    expect(resolveSource(ctx, '../../outside')).toBe('outside');
    expect(resolveSource(ctx, 'sub/b.txt')).toBe('sub/b.txt');
  });

  it('a staged directory keeps symlinks as symlinks and skips ignored files', () => {
    const h = createHash('sha256');
    const dest = join(dir, 'stage');
    stageCopy(ctx, '', dest, { hash: h, ig: loadIgnore(ctx, '*.log\n**/*.log\n') });
    expect(readlinkSync(join(dest, 'hostetc'))).toBe('/etc');
    expect(lstatSync(join(dest, 'up')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dest, 'sub', 'b.txt'), 'utf8')).toBe('b');
    expect(existsSync(join(dest, 'sub', 'c.log'))).toBe(false);
  });

  it('--chmod applies to what is staged; the hash follows the content', () => {
    const stage = (n: string): string => {
      const h = createHash('sha256');
      stageCopy(ctx, 'a.txt', join(dir, n), { hash: h, chmod: 0o600 });
      return h.digest('hex');
    };
    const h1 = stage('s1');
    expect(lstatSync(join(dir, 's1')).mode & 0o777).toBe(0o600);
    expect(stage('s2')).toBe(h1);
    writeFileSync(join(ctx, 'a.txt'), 'changed');
    expect(stage('s3')).not.toBe(h1);
  });
});

describe('globs and archives', () => {
  it('globs match one level per *, ** crosses directories', () => {
    expect(expandGlob(ctx, '*.txt', undefined)).toEqual(['a.txt']);
    expect(expandGlob(ctx, 'sub/*', loadIgnore(ctx, 'sub/c.log'))).toEqual(['sub/b.txt', 'sub/deep']);
    expect(expandGlob(ctx, '**/*.txt', undefined)).toEqual(['a.txt', 'sub/b.txt']);
  });

  it('archives are recognised by their magic bytes', () => {
    writeFileSync(join(dir, 'gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
    expect(isArchive(join(dir, 'gz'))).toBe(true);
    expect(isArchive(join(ctx, 'a.txt'))).toBe(false);
    expect(isArchive(join(ctx, 'hostetc'))).toBe(false);
  });
});
