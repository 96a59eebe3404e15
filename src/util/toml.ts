// TOML parsing with a per-user cache. @iarna/toml costs several milliseconds per call, which is a
// noticeable part of a short command; the parsed form of each distinct text is kept as JSON in the
// user's runtime dir (a cache: tmpfs, no fsync; a torn or stale entry is just re-parsed).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import TOML from '@iarna/toml';

function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const base = env._TSPOD_RUNTIME_DIR ?? env.XDG_RUNTIME_DIR;
  return base ? join(base, 'tspod', 'toml-cache') : undefined;
}

/** Parses `text`; throws @iarna/toml's error (with line/col) for invalid input, never caching it. */
export function parseTomlCached(text: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const dir = cacheDir(env);
  const key = dir ? createHash('sha256').update(text).digest('hex').slice(0, 32) : '';
  if (dir) {
    try {
      return JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')) as Record<string, unknown>;
    } catch {
      /* not cached yet */
    }
  }
  const doc = TOML.parse(text) as Record<string, unknown>;
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
