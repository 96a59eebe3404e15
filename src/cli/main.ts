// Entry point (dist/main.mjs), kept tiny: `tspod --version` answers before anything is loaded.
// The rest of tspod is one CommonJS bundle (dist/tspod.cjs) compiled through vm.Script with a V8
// code cache made at build time (dist/tspod.cjs.cache): parsing and compiling half a megabyte of
// JavaScript on every call would cost more than everything else a short command does.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

declare const __TSPOD_VERSION__: string;

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`tspod version ${__TSPOD_VERSION__}\n`);
} else {
  const dir = dirname(fileURLToPath(import.meta.url));
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
