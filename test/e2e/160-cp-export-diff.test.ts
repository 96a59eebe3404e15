// cp (both directions, tar streams, hostile symlinks), export, diff (container and image), mount and
// umount (inside and outside `unshare`, mount counts), container prune, and the rootless refusals of
// pause/unpause/stats on hosts without cgroups v2.
//
// Requirements: rootless test user with subordinate ids, the fixture registry on 127.0.0.1:5000, GNU
// tar. The pause/stats tests need a cgroups v1 or hybrid host and skip elsewhere.
// Validated against podman 4.3: TSPOD_BIN=podman npx vitest run test/e2e/160-cp-export-diff.test.ts

import { statfsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, IS_PODMAN, asUser, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';

// podman 4.3 picks vfs for a rootless store without storage.conf: make it use overlay like tspod.
const plainStore = storeFor('160-cp-export-diff');
const store = IS_PODMAN ? { ...plainStore, args: [...plainStore.args, '--storage-driver', 'overlay'] } : plainStore;
const BASE = plainStore.root.replace(/\/root$/, '');
const WORK = `${BASE}/work`; // the test user's host-side scratch directory
const IMG = '127.0.0.1:5000/library/busybox:latest';
const LAYERS = '127.0.0.1:5000/library/layers:latest';
const CANARY = 'host canary: must never change\n';
const CLI = `${BIN} ${store.args.join(' ')}`;

/** A silent success; returns stdout. */
async function out(args: string[], input?: string): Promise<string> {
  const r = await ok(args, { store, input });
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function sh(script: string): Promise<string> {
  const r = await asUser('sh', ['-c', script]);
  if (r.code !== 0) throw new Error(`sh -c ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a script inside `unshare` (the user namespace holding the mounts); $T is the CLI. */
async function inUnshare(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return tspod(['unshare', 'sh', '-c', `T="${CLI}"; ${script}`], { store });
}

async function rmContainers(...names: string[]): Promise<void> {
  await ok(['rm', '-f', '-t', '0', ...names], { store });
}

/** The content of PATH inside a container, read through export (works for stopped containers). */
async function ctrFile(name: string, path: string): Promise<string> {
  return sh(`${CLI} export -o ${WORK}/x.tar ${name} && tar -xOf ${WORK}/x.tar ${path.replace(/^\//, '')}; rm -f ${WORK}/x.tar`);
}

async function ctrList(name: string): Promise<string[]> {
  const listing = await sh(`${CLI} export -o ${WORK}/l.tar ${name} && tar -tf ${WORK}/l.tar; rm -f ${WORK}/l.tar`);
  return listing.split('\n').filter(Boolean);
}

async function resetWork(): Promise<void> {
  await sh(`rm -rf ${WORK} && mkdir -p ${WORK}/hd/sub && printf '%s' '${CANARY}' > ${WORK}/canary && echo hostfile > ${WORK}/hf && echo in > ${WORK}/hd/sub/f && ln -s /etc/shadow ${WORK}/hd/lnk`);
}

async function workListing(): Promise<string> {
  return sh(`cd ${WORK} && find . | sort`);
}

let containerPasswd = '';

beforeAll(async () => {
  await cleanStore(plainStore);
  await ok(['pull', '-q', IMG], { store });
  await ok(['pull', '-q', LAYERS], { store });
  containerPasswd = await out(['run', '--rm', IMG, 'cat', '/etc/passwd']);
  expect(containerPasswd).toMatch(/^root:x:0:0:/);
  expect(containerPasswd).not.toContain('tspodtest');
});

afterAll(async () => {
  await cleanStore(plainStore);
});

describe('cp out of a container', () => {
  const C = 'cp160-out';
  beforeAll(async () => {
    await resetWork();
    await rmContainers(C);
    await out(['run', '--name', C, IMG, 'sh', '-c', 'mkdir -p /data/sub && echo one > /data/one && echo two > /data/sub/two && ln -s one /data/link']);
  });
  afterAll(() => rmContainers(C));

  it('a file to a new name, into a directory, and to a name ending in / that is missing', async () => {
    expect(await out(['cp', `${C}:/data/one`, `${WORK}/copy-one`])).toBe('');
    expect(await sh(`cat ${WORK}/copy-one`)).toBe('one\n');
    expect(await out(['cp', `${C}:/data/one`, `${WORK}/hd`])).toBe('');
    expect(await sh(`cat ${WORK}/hd/one`)).toBe('one\n');
    const r = await fails(['cp', `${C}:/data/one`, `${WORK}/missing/`], 125, { store });
    expect(r.stderr).toBe(`Error: "${WORK}/missing/" could not be found on the host: no such file or directory\n`);
    const r2 = await fails(['cp', `${C}:/data/one`, `${WORK}/missing/x`], 125, { store });
    expect(r2.stderr).toBe(`Error: "${WORK}/missing/x" could not be found on the host: no such file or directory\n`);
  });

  it('a directory recursively, symlinks kept as symlinks, files owned by the user', async () => {
    expect(await out(['cp', `${C}:/data`, `${WORK}/data-copy`])).toBe('');
    expect(await sh(`cd ${WORK}/data-copy && find . | sort && readlink link && cat sub/two && stat -c %U sub/two`)).toBe(
      '.\n./link\n./one\n./sub\n./sub/two\none\ntwo\ntspodtest\n',
    );
  });

  it('to stdout as a tar', async () => {
    const listing = await sh(`${CLI} cp ${C}:/data - | tar -tf -`);
    // podman (Go's archive/tar) writes directories without the trailing slash GNU tar gives them
    const names = listing.split('\n').filter(Boolean).map((n) => n.replace(/\/$/, ''));
    expect(names.sort()).toEqual(['data', 'data/link', 'data/one', 'data/sub', 'data/sub/two']);
    expect(await sh(`${CLI} cp ${C}:/data/sub/two - | tar -xOf - two`)).toBe('two\n');
  });

  it('a missing source names the path and the container', async () => {
    const r = await fails(['cp', `${C}:/nosuch`, `${WORK}/x`], 125, { store });
    expect(r.stderr).toBe(`Error: "/nosuch" could not be found on container ${C}: no such file or directory\n`);
    const r2 = await fails(['cp', 'cp160-nosuch:/x', `${WORK}/x`], 125, { store });
    expect(r2.stderr).toBe('Error: container "cp160-nosuch" does not exist\n');
  });
});

describe('cp into a container', () => {
  const C = 'cp160-in';
  beforeAll(async () => {
    await resetWork();
    await rmContainers(C);
    await out(['run', '--name', C, IMG, 'sh', '-c', 'mkdir -p /dst && echo ctr > /dst/file']);
  });
  afterAll(() => rmContainers(C));

  it('a file into a directory and to a new name, owned by the container user', async () => {
    expect(await out(['cp', `${WORK}/hf`, `${C}:/dst/`])).toBe('');
    expect(await out(['cp', `${WORK}/hf`, `${C}:/dst/renamed`])).toBe('');
    expect(await out(['cp', `${WORK}/hf`, `${C}:/dst/file`])).toBe('');
    expect(await ctrFile(C, '/dst/hf')).toBe('hostfile\n');
    expect(await ctrFile(C, '/dst/renamed')).toBe('hostfile\n');
    expect(await ctrFile(C, '/dst/file')).toBe('hostfile\n');
    const owners = await sh(`${CLI} cp ${C}:/dst - | tar -tvf - --numeric-owner | awk '{print $2, $NF}' | sort`);
    expect(owners).toContain('0/0 dst/hf\n');
  });

  it('a directory recursively, and a tar from stdin', async () => {
    expect(await out(['cp', `${WORK}/hd`, `${C}:/dst`])).toBe('');
    expect(await out(['cp', `${WORK}/hd`, `${C}:/newdir`])).toBe('');
    const tarred = await asUser('sh', ['-c', `tar -C ${WORK} -cf - hf hd | ${CLI} cp - ${C}:/dst/sub-from-stdin/ 2>&1; echo rc=$?`]);
    expect(tarred.stdout).toContain('could not be found'); // the directory must exist for a tar
    await out(['cp', `${WORK}/hd`, `${C}:/dst/sub-from-stdin`]);
    const r = await asUser('sh', ['-c', `tar -C ${WORK} -cf - hf | ${CLI} cp - ${C}:/dst/sub-from-stdin`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const names = await ctrList(C);
    for (const n of ['dst/hd/sub/f', 'dst/hd/lnk', 'newdir/sub/f', 'newdir/lnk', 'dst/sub-from-stdin/hf', 'dst/sub-from-stdin/sub/f']) {
      expect(names).toContain(n);
    }
    expect(await ctrFile(C, '/newdir/sub/f')).toBe('in\n');
  });

  it('errors: missing parent, a directory onto a file, a missing host source, no container at all', async () => {
    let r = await fails(['cp', `${WORK}/hf`, `${C}:/nodir/x`], 125, { store });
    expect(r.stderr).toBe(`Error: "/nodir/x" could not be found on container ${C}: no such file or directory\n`);
    r = await fails(['cp', `${WORK}/hf`, `${C}:/nodir/`], 125, { store });
    expect(r.stderr).toBe(`Error: "/nodir/" could not be found on container ${C}: no such file or directory\n`);
    r = await fails(['cp', `${WORK}/hd`, `${C}:/dst/file`], 125, { store });
    expect(r.stderr).toBe('Error: destination must be a directory when copying a directory\n');
    r = await fails(['cp', `${WORK}/nosuch`, `${C}:/dst`], 125, { store });
    expect(r.stderr).toBe(`Error: "${WORK}/nosuch" could not be found on the host: no such file or directory\n`);
    r = await fails(['cp', `${WORK}/hf`, `${WORK}/hf2`], 125, { store });
    expect(r.stderr).toMatch(/^Error: /);
  });
});

describe('cp with hostile symlinks stays inside the container root', () => {
  const C = 'cp160-hostile';
  beforeAll(async () => {
    await resetWork();
    await rmContainers(C);
    // /escape -> /, /tmp/l climbs far above the root, /etc/hostlink points at the host canary's
    // path, and the container has its own directory at the host work dir's path.
    await out([
      'run', '--name', C, IMG, 'sh', '-c',
      `ln -s / /escape && ln -s ../../../../../.. /tmp/l && ln -s ${WORK}/canary /etc/hostlink && mkdir -p ${WORK} && echo container > /ctr-canary`,
    ]);
  });
  afterAll(() => rmContainers(C));

  it('out: /escape/etc/passwd and /tmp/l/etc/passwd are the container\'s passwd', async () => {
    await out(['cp', `${C}:/escape/etc/passwd`, `${WORK}/p1`]);
    await out(['cp', `${C}:/tmp/l/etc/passwd`, `${WORK}/p2`]);
    expect(await sh(`cat ${WORK}/p1`)).toBe(containerPasswd);
    expect(await sh(`cat ${WORK}/p2`)).toBe(containerPasswd);
    const viaStdout = await sh(`${CLI} cp ${C}:/escape/etc/passwd - | tar -xOf -`);
    expect(viaStdout).toBe(containerPasswd);
  });

  it('out: a symlink to a host path is resolved in the container, never read on the host', async () => {
    const r = await fails(['cp', `${C}:/etc/hostlink`, `${WORK}/leak`], 125, { store });
    expect(r.stderr).toBe(`Error: "/etc/hostlink" could not be found on container ${C}: no such file or directory\n`);
    const r2 = await fails(['cp', `${C}:/escape${WORK}/canary`, `${WORK}/leak2`], 125, { store });
    expect(r2.stderr).toContain('could not be found on container');
    expect(await sh(`ls ${WORK}`)).not.toMatch(/leak/);
  });

  it('in: writes through /escape, /tmp/l and a host-path symlink land inside the container', async () => {
    const before = await workListing();
    await out(['cp', `${WORK}/hf`, `${C}:/escape${WORK}/`]);
    await out(['cp', `${WORK}/hf`, `${C}:/tmp/l${WORK}/via-l`]);
    await out(['cp', `${WORK}/hf`, `${C}:/etc/hostlink`]);
    await out(['cp', `${WORK}/hd`, `${C}:/tmp/l/`]);
    // the host is untouched
    expect(await sh(`cat ${WORK}/canary`)).toBe(CANARY);
    expect(await workListing()).toBe(before);
    expect(await sh('ls /hd /hf 2>&1 || true')).toMatch(/No such file/);
    // and the files are in the container, under its own root
    expect(await ctrFile(C, `${WORK}/hf`)).toBe('hostfile\n');
    expect(await ctrFile(C, `${WORK}/via-l`)).toBe('hostfile\n');
    expect(await ctrFile(C, `${WORK}/canary`)).toBe('hostfile\n');
    expect(await ctrFile(C, '/hd/sub/f')).toBe('in\n');
    expect(await ctrFile(C, '/ctr-canary')).toBe('container\n');
  });
});

describe('cp with a running container', () => {
  const C = 'cp160-running';
  beforeAll(async () => {
    await resetWork();
    await rmContainers(C);
    await out(['run', '-d', '--name', C, IMG, 'sleep', '120']);
  });
  afterAll(() => rmContainers(C));

  it('copies in and out while it runs, and it keeps running', async () => {
    await out(['cp', `${WORK}/hf`, `${C}:/tmp/`]);
    await out(['cp', `${C}:/tmp/hf`, `${WORK}/back`]);
    expect(await sh(`cat ${WORK}/back`)).toBe('hostfile\n');
    expect(await out(['ps', '--format', '{{.Names}} {{.Status}}', '--filter', `name=${C}`])).toMatch(new RegExp(`^${C} Up `));
  });
});

describe('export', () => {
  const C = 'export160';
  beforeAll(async () => {
    await resetWork();
    await rmContainers(C);
    await out(['run', '--name', C, IMG, 'sh', '-c', 'echo new > /added && rm /etc/group']);
  });
  afterAll(() => rmContainers(C));

  it('-o FILE: the merged filesystem, without whiteouts', async () => {
    expect(await out(['export', '-o', `${WORK}/e.tar`, C])).toBe('');
    const names = (await sh(`tar -tf ${WORK}/e.tar`)).split('\n').filter(Boolean);
    expect(names).toContain('bin/');
    expect(names).toContain('bin/busybox');
    expect(names).toContain('added');
    expect(names).toContain('etc/passwd');
    expect(names).not.toContain('etc/group');
    expect(names.some((n) => n.includes('.wh.'))).toBe(false);
    expect(await sh(`tar -xOf ${WORK}/e.tar added`)).toBe('new\n');
  });

  it('to stdout (redirected), and errors', async () => {
    expect(await sh(`${CLI} export ${C} | tar -xOf - added`)).toBe('new\n');
    let r = await fails(['export', 'export160-nosuch'], 125, { store });
    expect(r.stderr).toBe('Error: no container with name or ID "export160-nosuch" found: no such container\n');
    r = await fails(['export', '-o', '/nonexistent/x.tar', C], 125, { store });
    expect(r.stderr).toBe('Error: creating file "/nonexistent/x.tar": open /nonexistent/x.tar: no such file or directory\n');
  });
});

describe('diff', () => {
  const C = 'diff160';
  beforeAll(async () => {
    await rmContainers(C);
    await out(['run', '--name', C, IMG, 'sh', '-c', 'echo x > /newfile; rm /etc/passwd; mkdir -p /tmp/a/b; echo y > /etc/group; ln -s / /escape; rm -rf /home']);
  });
  afterAll(() => rmContainers(C));

  it('a container: A, C and D, sorted by path', async () => {
    const want = 'A /escape\nC /etc\nC /etc/group\nD /etc/passwd\nD /home\nA /newfile\nC /tmp\nA /tmp/a\nA /tmp/a/b\n';
    expect(await out(['diff', C])).toBe(want);
    expect(await out(['container', 'diff', C])).toBe(want);
  });

  it('--format json', async () => {
    expect(JSON.parse(await out(['diff', '--format', 'json', C]))).toEqual({
      changed: ['/etc', '/etc/group', '/tmp'],
      added: ['/escape', '/newfile', '/tmp/a', '/tmp/a/b'],
      deleted: ['/etc/passwd', '/home'],
    });
  });

  it('an image: its top layer over the others', async () => {
    expect(await out(['image', 'diff', LAYERS])).toBe('C /data\nD /data/dir-to-delete\nC /etc\nA /etc/layer5\n');
    const first = (await out(['diff', IMG])).split('\n').slice(0, 3);
    expect(first).toEqual(['A /bin', 'A /bin/[', 'A /bin/[[']);
  });

  it('an opaque directory over a lower one is deleted, its new content added', async () => {
    const O = 'diff160-opaque';
    await rmContainers(O);
    await out(['run', '--name', O, LAYERS, 'sh', '-c', 'rm -rf /opaque; mkdir /opaque; echo z > /opaque/z; rm /data/overwritten']);
    expect(await out(['diff', O])).toBe('C /data\nD /data/overwritten\nC /etc\nD /opaque\nA /opaque/z\n');
    await rmContainers(O);
  });

  it('nothing changed, and no such container or image', async () => {
    const E = 'diff160-empty';
    await rmContainers(E);
    await out(['create', '--name', E, IMG, 'true']);
    expect(await out(['diff', E])).toBe('');
    expect(await out(['diff', '--format', 'json', E])).toBe('{}\n');
    await rmContainers(E);
    const r = await fails(['diff', 'diff160-nosuch'], 125, { store });
    expect(r.stderr).toBe('Error: diff160-nosuch not found: layer not known\n');
  });
});

describe('mount and umount', () => {
  const C = 'mount160';
  beforeAll(async () => {
    await rmContainers(C);
    await out(['create', '--name', C, IMG, 'true']);
  });
  afterAll(() => rmContainers(C));

  it('rootless outside unshare: refused with the way out', async () => {
    for (const args of [['mount', C], ['mount'], ['container', 'mount', C]]) {
      const r = await fails(args, 125, { store });
      expect(r.stderr).toMatch(/^Error: cannot run command "\S+ (container )?mount" in rootless mode, must execute `\S+ unshare` first\n/);
    }
  });

  it('inside unshare: prints the path, lists it, counts mounts', async () => {
    const id = (await out(['container', 'inspect', '--format', '{{.Id}}', C])).trim();
    const r = await inUnshare(
      `set -e; p=$($T mount ${C}); test -f "$p/bin/busybox"; echo "path-ok"; $T container mount ${C} >/dev/null; ` +
        `$T mount | grep -c "^${id.slice(0, 12)}  $p$"; $T mount --notruncate | grep -c "^${id}  $p$"; ` +
        `$T umount ${C}; test -f "$p/bin/busybox"; echo "still-mounted"; $T umount ${C}; test ! -e "$p/bin/busybox"; echo "unmounted"; ` +
        `$T mount | grep -c ${id.slice(0, 12)} || true; $T umount ${C}`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`path-ok\n1\n1\n${C}\nstill-mounted\n${C}\nunmounted\n0\n${C}\n`);
    expect(r.code).toBe(0);
  });

  it('--format json lists id, Names and mountpoint', async () => {
    const r = await inUnshare(`$T mount ${C} >/dev/null && $T mount --format json; $T umount -f ${C} >/dev/null`);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ id: string; Names: string[]; mountpoint: string }>;
    expect(list.map((m) => m.Names)).toEqual([[C]]);
    expect(list[0]!.mountpoint).toMatch(/\/merged$/);
  });

  it('umount of a missing container', async () => {
    const r = await fails(['umount', 'mount160-nosuch'], 125, { store });
    expect(r.stderr).toBe('Error: no container with name or ID "mount160-nosuch" found: no such container\n');
  });
});

describe('container prune', () => {
  const names = ['prune160-a', 'prune160-b', 'prune160-run'];
  beforeAll(async () => {
    await rmContainers(...names);
  });
  afterAll(() => rmContainers(...names));

  it('asks first; removes the non-running containers; filters', async () => {
    const a = (await out(['create', '--label', 'prune160=yes', '--name', 'prune160-a', IMG, 'true'])).trim();
    const b = (await out(['create', '--name', 'prune160-b', IMG, 'true'])).trim();
    await out(['run', '-d', '--name', 'prune160-run', IMG, 'sleep', '120']);
    const r = await ok(['container', 'prune'], { store, input: 'n\n' });
    expect(r.stdout).toBe('WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ');
    expect(await out(['container', 'prune', '-f', '--filter', 'label=prune160=yes'])).toBe(`${a}\n`);
    expect(await out(['container', 'prune', '-f', '--filter', 'until=1h'])).toBe('');
    const f = await fails(['container', 'prune', '-f', '--filter', 'bogus=1'], 125, { store });
    expect(f.stderr).toBe('Error: bogus is an invalid filter\n');
    const removed = (await out(['container', 'prune', '-f'])).split('\n').filter(Boolean);
    expect(removed).toContain(b);
    expect(await out(['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=prune160'])).toBe('prune160-run\n');
  });
});

const cgroupV2 = ((): boolean => {
  try {
    return statfsSync('/sys/fs/cgroup').type === 0x63677270;
  } catch {
    return false;
  }
})();

describe.skipIf(cgroupV2)('pause, unpause, stats: rootless without cgroups v2 (requires a v1/hybrid host)', () => {
  const C = 'pause160';
  beforeAll(async () => {
    await rmContainers(C, 'pause160-created');
    await out(['run', '-d', '--name', C, IMG, 'sleep', '120']);
  });
  afterAll(() => rmContainers(C, 'pause160-created'));

  it('pause and unpause fail with a clear reason; the container keeps running', async () => {
    const p = await fails(['pause', C], 125, { store });
    expect(p.stderr).toMatch(/^Error: .*pause.*rootless.*cgroup/i);
    const u = await fails(['unpause', C], 125, { store });
    expect(u.stderr).toMatch(/^Error: .*unpause.*(rootless.*cgroup|cgroup.*rootless)/i);
    expect(await out(['ps', '--format', '{{.Names}} {{.Status}}', '--filter', `name=${C}`])).toMatch(new RegExp(`^${C} Up `));
  });

  it('pause of a container that does not run, and of a missing one', async () => {
    await out(['create', '--name', 'pause160-created', IMG, 'true']);
    let r = await fails(['pause', 'pause160-created'], 125, { store });
    expect(r.stderr).toBe('Error: "created" is not running, can\'t pause: container state improper\n');
    r = await fails(['pause', 'pause160-nosuch'], 125, { store });
    expect(r.stderr).toBe('Error: no container with name or ID "pause160-nosuch" found: no such container\n');
  });

  it('stats', async () => {
    for (const args of [['stats', '--no-stream'], ['stats', '--no-stream', C]]) {
      const r = await fails(args, 125, { store });
      expect(r.stderr).toBe('Error: stats is not supported in rootless mode without cgroups v2\n');
    }
  });
});
