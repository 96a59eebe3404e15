// Entry point (dist/main.cjs), kept tiny: `tspod --version` answers before anything is loaded.
// The rest of tspod is one CommonJS bundle (dist/tspod.cjs) compiled through vm.Script with a V8
// code cache: parsing and compiling a megabyte of JavaScript on every call would cost more than
// everything else a short command does. The entry is CommonJS too: an ES module entry makes Node
// load and run its ESM loader first (~2 ms).
//
// Two caches: the one shipped next to the bundle (made at build time from `run --help`), and a
// per-user one in the runtime dir that also holds what the user's own commands compiled. The
// first time a command (its first words) succeeds, the process writes the cache anew; later calls
// find the whole path of that command compiled (a `run` then costs ~6 ms of CPU less). V8 checks
// that a cache matches the source and ignores one that does not.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { Script } from 'node:vm';

declare const __TSPOD_VERSION__: string;
declare const __dirname: string;

function readOr(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

const GROUPS = new Set(['container', 'image', 'volume', 'network', 'system']);

/** The command (`run`, `container ls`): what a user cache records as compiled. */
function commandKey(args: string[]): string {
  const words = args.filter((a) => !a.startsWith('-'));
  return GROUPS.has(words[0] ?? '') ? words.slice(0, 2).join(' ') : (words[0] ?? '');
}

async function main(args: string[]): Promise<void> {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    process.stdout.write(`tspod version ${__TSPOD_VERSION__}\n`);
    return;
  }
  const dir = __dirname;
  const file = join(dir, 'tspod.cjs');
  // ASCII by construction (scripts/build.mjs checks): latin1 is the cheapest decoding
  const source = readFileSync(file, 'latin1');
  const runtimeDir = process.env._TSPOD_RUNTIME_DIR ?? (process.getuid?.() === 0 ? '/run' : undefined);
  let userCache: string | undefined;
  let seen: string[] = [];
  if (runtimeDir && !process.env.TSPOD_WRITE_CODE_CACHE) {
    const st = statSync(file);
    userCache = join(runtimeDir, 'tspod', 'code-cache', `${__TSPOD_VERSION__}-${st.size}-${Math.trunc(st.mtimeMs)}`);
  }
  let cachedData = userCache ? readOr(`${userCache}.cache`) : undefined;
  if (cachedData) {
    try {
      seen = JSON.parse(readFileSync(`${userCache}.json`, 'utf8')) as string[];
    } catch {
      seen = [];
    }
  } else cachedData = readOr(`${file}.cache`);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const mod = { exports: {} as { runCli(argv: string[]): Promise<number> } };
  (script.runInThisContext() as (...a: unknown[]) => void)(mod.exports, createRequire(file), mod, file, dir);
  const code = await mod.exports.runCli(args);
  if (process.env.TSPOD_WRITE_CODE_CACHE) {
    // Build time: record what this run compiled, for every later call (scripts/build.mjs).
    writeFileSync(`${file}.cache`, script.createCachedData());
  } else if (userCache && code === 0) {
    const key = commandKey(args);
    if (script.cachedDataRejected || !seen.includes(key)) {
      try {
        mkdirSync(join(userCache, '..'), { recursive: true, mode: 0o700 });
        const tmp = `${userCache}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, `${userCache}.cache`);
        writeFileSync(`${tmp}j`, JSON.stringify(script.cachedDataRejected ? [key] : [...seen, key]));
        renameSync(`${tmp}j`, `${userCache}.json`);
        // caches of other builds (an upgrade) are dead weight
        const mine = basename(userCache);
        for (const f of readdirSync(join(userCache, '..'))) {
          if (!f.startsWith(mine) && !f.endsWith('.tmp') && !f.endsWith('.tmpj')) unlinkSync(join(userCache, '..', f));
        }
      } catch {
        /* a cache only */
      }
    }
  }
  // Flush stdout/stderr before leaving; a pipe reader must see everything.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

void main(process.argv.slice(2));
