import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTomlCached, parseTomlFileCached, textKey } from '../../src/util/toml.js';

const base = mkdtempSync(join(tmpdir(), 'tspod-toml-'));
const env = { XDG_RUNTIME_DIR: base } as NodeJS.ProcessEnv;
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('TOML cache', () => {
  it('a file is parsed once and re-parsed after any change, even of the same size', () => {
    const f = join(base, 'a.conf');
    writeFileSync(f, 'a = 1\n');
    expect(parseTomlFileCached(f, env)).toEqual({ a: 1 });
    expect(readdirSync(join(base, 'tspod', 'toml-cache')).length).toBe(1);
    expect(parseTomlFileCached(f, env)).toEqual({ a: 1 });
    writeFileSync(f, 'a = 2\n');
    utimesSync(f, new Date(1000), new Date(1000)); // even with an old mtime: ctime and inode data differ
    expect(parseTomlFileCached(f, env)).toEqual({ a: 2 });
  });
  it('missing file: undefined; syntax error: the parser error with its line, never cached', () => {
    expect(parseTomlFileCached(join(base, 'missing.conf'), env)).toBeUndefined();
    const bad = join(base, 'bad.conf');
    writeFileSync(bad, 'x = 1\ny = = 2\n');
    const n = readdirSync(join(base, 'tspod', 'toml-cache')).length;
    expect(() => parseTomlFileCached(bad, env)).toThrow();
    try {
      parseTomlFileCached(bad, env);
    } catch (e) {
      expect((e as { line?: number }).line).toBe(1);
    }
    expect(readdirSync(join(base, 'tspod', 'toml-cache')).length).toBe(n);
  });
  it('text keys differ for different texts of the same length', () => {
    expect(textKey('a = 1')).not.toBe(textKey('a = 2'));
    expect(parseTomlCached('k = "v"', env)).toEqual({ k: 'v' });
    expect(existsSync(join(base, 'tspod', 'toml-cache'))).toBe(true);
  });
});
