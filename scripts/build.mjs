// Bundles the TypeScript into dist/ with esbuild:
//   dist/main.cjs        the tiny entry (src/cli/main.ts): --version, then loads the bundle
//   dist/tspod.cjs       everything else, one CommonJS file
//   dist/tspod.cjs.cache a V8 code cache for it, made by running the bundle once here
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dist = new URL('../dist/', import.meta.url);
rmSync(dist, { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  define: { __TSPOD_VERSION__: JSON.stringify(pkg.version) },
};
await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/main.cjs', format: 'cjs' });
// Minified (names kept for error messages): every call reads and hands V8 the whole source.
await build({ ...common, entryPoints: ['src/cli/run.ts'], outfile: 'dist/tspod.cjs', format: 'cjs', sourcemap: 'linked', minify: true, keepNames: true, charset: 'ascii' });
// main.ts reads the bundle as latin1 (a third of the cost of decoding UTF-8): it must be ASCII.
const bundle = readFileSync(new URL('tspod.cjs', dist));
const high = bundle.findIndex((b) => b > 127);
if (high >= 0) {
  const line = bundle.subarray(0, high).toString('latin1').split('\n').length;
  throw new Error(`dist/tspod.cjs line ${line} has a non-ASCII byte: escape it in the source (\\uXXXX)`);
}

// Warm the code cache with a harmless call that loads the CLI, yargs and a command module.
const home = mkdtempSync(join(tmpdir(), 'tspod-build-'));
try {
  execFileSync(process.execPath, [new URL('main.cjs', dist).pathname, 'run', '--help'], {
    env: { PATH: process.env.PATH, HOME: home, TSPOD_WRITE_CODE_CACHE: '1' },
    stdio: 'ignore',
  });
} finally {
  rmSync(home, { recursive: true, force: true });
}
