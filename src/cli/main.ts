// Entry point (dist/main.cjs), kept tiny: `tspod --version` answers before anything is loaded.
// The rest of tspod is one CommonJS bundle (dist/tspod.cjs) compiled through vm.Script with a V8
// code cache made at build time (dist/tspod.cjs.cache): parsing and compiling half a megabyte of
// JavaScript on every call would cost more than everything else a short command does. The entry
// is CommonJS too: an ES module entry makes Node load and run its ESM loader first (~2 ms).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

declare const __TSPOD_VERSION__: string;
declare const __dirname: string;

async function main(args: string[]): Promise<void> {
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    process.stdout.write(`tspod version ${__TSPOD_VERSION__}\n`);
    return;
  }
  const dir = __dirname;
  const file = join(dir, 'tspod.cjs');
  const cacheFile = `${file}.cache`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    /* no cache: compile from source */
  }
  const source = readFileSync(file, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const mod = { exports: {} as { runCli(argv: string[]): Promise<number> } };
  (script.runInThisContext() as (...a: unknown[]) => void)(mod.exports, createRequire(file), mod, file, dir);
  const code = await mod.exports.runCli(args);
  // Build time: record what this run compiled, for every later call (scripts/build.mjs).
  if (process.env.TSPOD_WRITE_CODE_CACHE) writeFileSync(cacheFile, script.createCachedData());
  // Flush stdout/stderr before leaving; a pipe reader must see everything.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

void main(process.argv.slice(2));
