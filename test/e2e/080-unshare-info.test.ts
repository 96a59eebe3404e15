// unshare (the user namespace layers are unpacked in) and info (podman's field names), plus the
// user without subordinate ids.
//
// Requirements: rootless test user tspodtest with subuid/subgid 200000:65536; user tspodnosub with no
// subordinate ids; the fixture registry on 127.0.0.1:5000 (docker.io mirror).

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, TEST_USER, asUser, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('080-unshare-info');
const NOSUB_USER = 'tspodnosub';

function passwd(user: string): { uid: number; gid: number; home: string } {
  const f = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}
const TEST = passwd(TEST_USER);
const WORK = `${TEST.home}/e2e/080-unshare-info.work`;
const SUB_START = 200000;
const SUB_COUNT = 65536;

/** The default stores of the user without subordinate ids (tspod's and podman's). */
function nosubStores(): string[] {
  const home = passwd(NOSUB_USER).home;
  return [`${home}/.local/share/tspod`, `${home}/.local/share/containers`];
}

beforeAll(async () => {
  await cleanStore(store);
  expect((await asUser('mkdir', ['-p', WORK])).code).toBe(0);
  expect((await asUser('rm', ['-rf', ...nosubStores()], { user: NOSUB_USER })).code).toBe(0);
});

afterAll(async () => {
  await tspod(['unshare', 'rm', '-rf', WORK], { store });
  await asUser('rm', ['-rf', WORK]);
  await asUser('rm', ['-rf', ...nosubStores()], { user: NOSUB_USER });
  await cleanStore(store);
});

async function unshare(args: string[]) {
  const r = await ok(['unshare', ...args], { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** "/proc/self/uid_map" rows as numbers. */
function idMap(text: string): number[][] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/).map(Number));
}

describe('unshare', () => {
  it('runs the command as uid 0 of the user namespace', async () => {
    expect(await unshare(['id', '-u'])).toBe('0\n');
    expect(await unshare(['id', '-g'])).toBe('0\n');
  });

  it('maps 0 to the user and 1..65536 to the subordinate range', async () => {
    const want = (id: number): number[][] => [
      [0, id, 1],
      [1, SUB_START, SUB_COUNT],
    ];
    expect(idMap(await unshare(['cat', '/proc/self/uid_map']))).toEqual(want(TEST.uid));
    expect(idMap(await unshare(['cat', '/proc/self/gid_map']))).toEqual(want(TEST.gid));
  });

  it('files chowned inside belong to the subordinate ids outside', async () => {
    const f = `${WORK}/owned`;
    await unshare(['sh', '-c', 'touch "$1" && chown 1000:1000 "$1"', 'sh', f]);
    const st = await asUser('stat', ['-c', '%u:%g', f]);
    expect(st.code).toBe(0);
    expect(st.stdout).toBe(`${SUB_START + 999}:${SUB_START + 999}\n`);
    expect(await unshare(['stat', '-c', '%u:%g', f])).toBe('1000:1000\n');
  });

  it("passes the command's exit code through", async () => {
    const r = await fails(['unshare', 'sh', '-c', 'echo out; echo err >&2; exit 3'], 3, { store });
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('a command that does not exist: exit 127', async () => {
    const r = await fails(['unshare', 'no-such-command-e2e'], 127, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*no-such-command-e2e.*not found/m);
  });
});

describe('info', () => {
  it('--format json has podman\'s fields: rootless, id mappings, store', async () => {
    const pulled = await ok(['pull', '-q', 'alpine:3.15'], { store });
    expect(pulled.stderr).toBe('');
    const r = await ok(['info', '--format', 'json'], { store });
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info.host.security.rootless).toBe(true);
    const map = (id: number) => [
      { container_id: 0, host_id: id, size: 1 },
      { container_id: 1, host_id: SUB_START, size: SUB_COUNT },
    ];
    expect(info.host.idMappings.uidmap).toEqual(map(TEST.uid));
    expect(info.host.idMappings.gidmap).toEqual(map(TEST.gid));
    expect(info.host.arch).toBe('amd64');
    expect(info.host.os).toBe('linux');
    expect(info.host.ociRuntime.name).toBe('runc'); // crun refuses hybrid cgroups on these hosts
    expect(info.store.graphRoot).toBe(store.root);
    expect(info.store.runRoot).toBe(store.runroot);
    expect(info.store.graphDriverName).toMatch(/^(overlay|vfs)$/);
    expect(info.store.imageStore.number).toBe(1);
    expect(typeof info.version.Version).toBe('string');
  });

  it('--format templates', async () => {
    const r = await ok(['info', '--format', '{{.Store.GraphRoot}}|{{.Store.RunRoot}}|{{.Host.Security.Rootless}}'], {
      store,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${store.root}|${store.runroot}|true\n`);
  });

  it('without --format prints YAML-like sections', async () => {
    const r = await ok(['info'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^host:$/m);
    expect(r.stdout).toMatch(/^store:$/m);
    expect(r.stdout).toMatch(/^ {2}security:\n(?: {4}.*\n)*? {4}rootless: true$/m);
    expect(r.stdout).toContain(`graphRoot: ${store.root}\n`);
  });

  // tspod-only: tspod probes native overlayfs in the user namespace (the kernel here supports it) and
  // uses it; podman 4.3 without a storage.conf uses vfs on this host.
  it.skipIf(IS_PODMAN)('uses native overlay and says so', async () => {
    const r = await ok(['info', '--format', '{{.Store.GraphDriverName}}'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('overlay\n');
  });
});

describe('a user without subordinate ids', () => {
  it('pull fails with exit 125 and points at /etc/subuid', async () => {
    const r = await fails(['pull', '-q', 'alpine:3.15'], 125, { user: NOSUB_USER });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: /m);
    expect(r.stderr).toContain('/etc/subuid');
  });

  // tspod-only wording: podman logs "no subuid ranges found ... check rootless mode in man pages" and
  // then fails on the first chown; tspod says up front what to run.
  it.skipIf(IS_PODMAN)('the error names the user and the usermod command that fixes it', async () => {
    const r = await fails(['pull', '-q', 'alpine:3.15'], 125, { user: NOSUB_USER });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.stderr).toContain(NOSUB_USER);
    expect(r.stderr).toContain('/etc/subuid');
    expect(r.stderr).toMatch(/usermod --add-subuids \d+-\d+ .*tspodnosub/);
  });
});
