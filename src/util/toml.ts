// TOML parsing with a per-user cache. @iarna/toml costs several milliseconds per call, which is a
// noticeable part of a short command; the parsed form of each distinct text is kept as JSON in the
// user's runtime dir (a cache: tmpfs, no fsync; a torn or stale entry is just re-parsed).
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type TOMLType from '@iarna/toml';

// Required on a cache miss only: initialising the parser costs about a millisecond, and nearly
// every call finds its files cached. A literal require, so esbuild still bundles it (lazily).
declare const require: (id: '@iarna/toml') => typeof TOMLType;
let tomlLib: typeof TOMLType | undefined;
function toml(): typeof TOMLType {
  return (tomlLib ??= require('@iarna/toml'));
}

function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const base = env._TSPOD_RUNTIME_DIR ?? env.XDG_RUNTIME_DIR;
  return base ? join(base, 'tspod', 'toml-cache') : undefined;
}

/**
 * The cache key of a text: two 32-bit FNV-1a hashes with different seeds and the length. Not a
 * cryptographic hash (the texts are the user's own configuration files); it spares loading
 * node:crypto, which costs more than the rest of a cached parse.
 */
export function textKey(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}-${text.length.toString(16)}`;
}

/** Parses `text`; throws @iarna/toml's error (with line/col) for invalid input, never caching it. */
export function parseTomlCached(text: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return cachedParse(() => text, textKey(text), env);
}

/**
 * Parses the TOML file at `path` (undefined when it does not exist). The cache key is the path and
 * its stat (device, inode, size, change and modification times in ns), so a hit reads neither the
 * file nor the parser: hashing a 30 kB containers.conf in a cold process cost ~2 ms of each call.
 * Errors as parseTomlCached; errors reading the file are thrown as they are.
 */
export function parseTomlFileCached(path: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | undefined {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
  const id = textKey(`${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
  return cachedParse(() => readFileSync(path, 'utf8'), `f${id}`, env);
}

function cachedParse(read: () => string, key: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const dir = cacheDir(env);
  if (dir) {
    try {
      return JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as Record<string, unknown>;
    } catch {
      /* not cached yet */
    }
  }
  const doc = toml().parse(read()) as Record<string, unknown>;
  if (dir) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = join(dir, `.${key}.${process.pid}`);
      writeFileSync(tmp, JSON.stringify(doc));
      renameSync(tmp, join(dir, `${key}.json`));
    } catch {
      /* a cache only */
    }
  }
  return doc;
}
