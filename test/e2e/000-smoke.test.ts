// The installed binary starts at all, as the test user.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { IS_PODMAN, TEST_USER, asUser, fails, ok } from './helpers.js';

const RUNTIME_DIR = `/run/user/${execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim()}`;

describe('smoke', () => {
  it('--version prints the version', async () => {
    const r = await ok(['--version']);
    expect(r.stdout).toMatch(/^(tspod|podman) version \S+/m);
  });

  it('version exits 0', async () => {
    const r = await ok(['version']);
    expect(r.stdout).toMatch(/\S/);
  });

  it('--help lists pull and images', async () => {
    const r = await ok(['--help']);
    expect(r.stdout).toMatch(/\bpull\b/);
    expect(r.stdout).toMatch(/\bimages\b/);
  });

  it('an unknown command exits 125 with an Error: line', async () => {
    const r = await fails(['no-such-command'], 125);
    expect(r.stderr).toMatch(/^Error: /m);
  });
});

// tspod only: the per-user V8 code cache (src/cli/main.ts) in the runtime dir.
describe.skipIf(IS_PODMAN)('code cache', () => {
  it('a successful command records itself in the user code cache; a corrupt cache is replaced', async () => {
    const dir = `${RUNTIME_DIR}/tspod/code-cache`;
    await asUser('rm', ['-rf', dir]);
    await ok(['images', '-q']);
    const list = async (): Promise<string[]> => (await asUser('ls', [dir])).stdout.split('\n').filter(Boolean).sort();
    const files = await list();
    expect(files).toHaveLength(2);
    const json = files.find((f) => f.endsWith('.json'))!;
    // other test files run commands as the same user at the same time: contain, not equal
    expect(JSON.parse((await asUser('cat', [`${dir}/${json}`])).stdout)).toContain('images');
    await ok(['volume', 'ls', '-q']);
    expect(JSON.parse((await asUser('cat', [`${dir}/${json}`])).stdout)).toEqual(expect.arrayContaining(['images', 'volume ls']));
    // garbage in the cache: V8 rejects it, the command still works and writes a good one
    const cache = files.find((f) => f.endsWith('.cache'))!;
    expect((await asUser('sh', ['-c', `head -c 4096 /dev/urandom > ${dir}/${cache}`])).code).toBe(0);
    expect((await ok(['images', '-q'])).stderr).toBe('');
    expect(JSON.parse((await asUser('cat', [`${dir}/${json}`])).stdout)).toContain('images');
    expect(Number((await asUser('stat', ['-c', '%s', `${dir}/${cache}`])).stdout)).toBeGreaterThan(100_000);
  });
});
