import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTree } from '../../src/util/remove.js';

const base = mkdtempSync(join(tmpdir(), 'tspod-remove-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('removeTree', () => {
  it('removes a tree and never follows a symlink out of it', () => {
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'k');
    const t = join(base, 't1');
    mkdirSync(join(t, 'a/b/c'), { recursive: true });
    writeFileSync(join(t, 'a/b/c/f'), 'x');
    symlinkSync(outside, join(t, 'a/link'));
    symlinkSync(join(outside, 'keep'), join(t, 'filelink'));
    removeTree(t);
    expect(existsSync(t)).toBe(false);
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('k');
  });
  it('a missing path is fine; a file is removed', () => {
    expect(() => removeTree(join(base, 'nope'))).not.toThrow();
    const f = join(base, 'file');
    writeFileSync(f, '');
    removeTree(f);
    expect(existsSync(f)).toBe(false);
  });
  it('falls back to rmSync where it cannot walk (a very deep tree)', () => {
    const t = join(base, 'deep');
    mkdirSync(join(t, ...Array.from({ length: 80 }, () => 'd')), { recursive: true });
    removeTree(t);
    expect(existsSync(t)).toBe(false);
  });
});
