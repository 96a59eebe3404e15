// rm -rf for tspod's own directories. Node's rmSync({recursive}) is a JavaScript rimraf that
// lstat()s every entry and loads its own module; a container's directories hold a handful of
// entries, so their removal was a visible part of every `run --rm`. This walks with the types
// readdir reports (a symlink is never followed: it is not a directory entry of type dir) and falls
// back to rmSync for anything unusual (a permission to fix, a directory changing under us).
import { readdirSync, rmSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir: string, depth: number): void {
  if (depth > 64) throw new Error('deep'); // let rmSync handle very deep trees
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) walk(p, depth + 1);
    else unlinkSync(p);
  }
  rmdirSync(dir);
}

/** Removes `path` and everything below it; a missing path is not an error. */
export function removeTree(path: string): void {
  try {
    walk(path, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === path) return;
    rmSync(path, { recursive: true, force: true, maxRetries: 2 });
  }
}
