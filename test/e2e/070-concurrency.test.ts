// Concurrent invocations and crashes (security.md, "Crash consistency and concurrency"):
// two simultaneous pulls into one store both succeed (and, in tspod, download each blob once);
// kill -9 in the middle of a pull leaves a store the next command uses without complaint.
//
// Requirements: rootless test user, the fixture registry on 127.0.0.1:5000 (docker.io mirror).
// The counting and stalling registry is in-test (hostile-registry.ts).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeRegistry, buildImage, tar, type BuiltImage } from './hostile-registry.js';
import { BIN, IS_PODMAN, TEST_USER, cleanStore, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('070-concurrency');
let reg: FakeRegistry;

/** A reproducible, incompressible payload. */
function noise(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

/** An image of `n` layers of `size` bytes each, unique to `name`. */
function bigImage(name: string, n: number, size: number): BuiltImage {
  return buildImage(
    Array.from({ length: n }, (_, i) => ({
      tar: tar([
        { name: `${name}/`, type: 'dir' },
        { name: `${name}/layer-${i}`, data: noise(size, `${name}-${i}`) },
      ]),
    })),
    { labels: { 'org.tspod.fixture': name } },
  );
}

const pullArgs = (ref: string): string[] => ['pull', '-q', '--tls-verify=false', ref];

/**
 * The next command after a kill repairs the store silently (security.md). podman 4.3 repairs it too
 * but says so: `level=warning msg="Found incomplete layer \"<id>\", deleting it"`; that line, and
 * only that one, is tolerated when running against podman.
 */
function expectSilentRepair(stderr: string): void {
  const rest = IS_PODMAN ? stderr.replace(/^time=\S+ level=warning msg="Found incomplete layer .*\n/gm, '') : stderr;
  expect(rest).toBe('');
}

// Commands after a kill get a short timeout, so a hang (a stale lock) fails with the command's name.
const AFTER_KILL = { store, timeoutMs: 30_000 };

async function images(): Promise<string[]> {
  const r = await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'], AFTER_KILL);
  expectSilentRepair(r.stderr); // no complaint about leftovers of a killed process
  return r.stdout.split('\n').filter(Boolean).sort();
}

// ---------------------------------------------------------------------------------------------------
// A pull we can kill: the same environment helpers.ts gives the test user, in its own process group.

interface Running {
  pid: number;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function userInfo(): { uid: number; gid: number; home: string } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${TEST_USER}:`));
  if (!line) throw new Error(`no user ${TEST_USER}`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

function startAsUser(args: string[]): Running {
  const u = userInfo();
  const argv = [BIN, ...store.args, ...args];
  const root = process.getuid?.() === 0;
  const child = spawn(
    root ? 'setpriv' : argv[0],
    root ? ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', ...argv] : argv.slice(1),
    {
      cwd: u.home,
      env: {
        HOME: u.home,
        USER: TEST_USER,
        LOGNAME: TEST_USER,
        PATH: '/usr/local/bin:/usr/bin:/bin',
        XDG_RUNTIME_DIR: `/run/user/${u.uid}`,
        LANG: 'C.UTF-8',
      },
      detached: true, // its own process group: kill -9 reaches everything it started in that group
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        // a daemonized grandchild may hold the pipes; don't wait for them
        setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
          resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
        }, 300);
      });
    },
  );
  return { pid: child.pid!, done };
}

function killGroup(r: Running): void {
  try {
    process.kill(-r.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

beforeAll(async () => {
  await cleanStore(store);
  reg = await FakeRegistry.start();
});

afterAll(async () => {
  await reg?.close();
  await cleanStore(store);
});

describe('concurrent pulls into one store', () => {
  it('two simultaneous pulls of library/layers:latest both succeed', async () => {
    const [a, b] = await Promise.all([
      ok(['pull', '-q', 'docker.io/library/layers:latest'], { store }),
      ok(['pull', '-q', 'docker.io/library/layers:latest'], { store }),
    ]);
    expect(a.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(b.stdout).toBe(a.stdout);
    expect(a.stderr).toBe('');
    expect(b.stderr).toBe('');
    expect(await images()).toEqual([`docker.io/library/layers:latest ${a.stdout.slice(0, 12)}`]);
    const layers = await ok(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'docker.io/library/layers:latest'], {
      store,
    });
    expect(layers.stdout).toBe('6\n');
  });

  it('two images sharing their base layer, pulled at the same time, both succeed', async () => {
    const [a, b] = await Promise.all([
      ok(['pull', '-q', 'docker.io/library/alpine:3.15'], { store }),
      ok(['pull', '-q', 'docker.io/library/busybox:latest'], { store }),
    ]);
    expect(a.stderr).toBe('');
    expect(b.stderr).toBe('');
    const list = await images();
    expect(list).toContain(`docker.io/library/alpine:3.15 ${a.stdout.slice(0, 12)}`);
    expect(list).toContain(`docker.io/library/busybox:latest ${b.stdout.slice(0, 12)}`);
    const base = async (ref: string) =>
      (await ok(['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', ref], { store })).stdout;
    expect(await base('docker.io/library/alpine:3.15')).toBe(await base('docker.io/library/busybox:latest'));
  });

  it('three simultaneous pulls from a slow registry all succeed with the same image', async () => {
    const img = bigImage('slow-three', 3, 1 << 20);
    const ref = reg.addImage('conc/slow-three', 'latest', img);
    reg.blobDelayMs = 300;
    try {
      const results = await Promise.all([0, 1, 2].map(() => ok(pullArgs(ref), { store })));
      for (const r of results) {
        expect(r.stdout).toBe(`${img.configDigest.slice(7)}\n`);
        expect(r.stderr).toBe('');
      }
    } finally {
      reg.blobDelayMs = 0;
    }
    expect(await images()).toContain(`${ref} ${img.configDigest.slice(7, 19)}`);
  });

  // tspod-only: the spec promises each blob is downloaded once when pulls race (file locks per
  // blob/layer). podman 4.3 downloads in both processes and lets storage deduplicate afterwards.
  it.skipIf(IS_PODMAN)('each blob is downloaded once when two pulls race', async () => {
    const img = bigImage('counted', 4, 1 << 20);
    const ref = reg.addImage('conc/counted', 'latest', img);
    reg.blobDelayMs = 300; // both processes are surely asking for the same blobs at the same time
    try {
      const [a, b] = await Promise.all([ok(pullArgs(ref), { store }), ok(pullArgs(ref), { store })]);
      expect(a.stdout).toBe(`${img.configDigest.slice(7)}\n`);
      expect(b.stdout).toBe(a.stdout);
      expect(a.stderr).toBe('');
      expect(b.stderr).toBe('');
    } finally {
      reg.blobDelayMs = 0;
    }
    // the config is a blob too: the spec says each blob, and a pull that waits for the other's lock
    // finds the whole image (config included) already committed
    const blobs: Array<[string, string]> = [
      ['config', img.configDigest],
      ...img.layers.map((l, i): [string, string] => [`layer ${i}`, l.digest]),
    ];
    const counts = Object.fromEntries(blobs.map(([what, d]) => [`${what} ${d}`, reg.blobGets(d)]));
    for (const [blob, n] of Object.entries(counts)) expect(n, `GETs of ${blob}: ${JSON.stringify(counts)}`).toBe(1);
  });
});

describe('kill -9 during a pull', () => {
  it('while a blob is downloading: images works silently, then the pull succeeds', async () => {
    const img = bigImage('killed', 2, 1 << 20);
    const ref = reg.addImage('crash/killed', 'latest', img);
    const stalled = img.layers[1].digest;
    reg.stallBlob(stalled, 256 * 1024, 1);
    const before = await images();

    const run = startAsUser(pullArgs(ref));
    await reg.waitForRequest((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${stalled}`), 30_000);
    await new Promise((r) => setTimeout(r, 500)); // the first 256 KiB are in flight / written
    killGroup(run);
    const res = await run.done;
    expect(res.signal).toBe('SIGKILL');

    expect(await images()).toEqual(before);
    const exists = await tspod(['image', 'exists', ref], AFTER_KILL);
    expect(exists.code).toBe(1);
    expectSilentRepair(exists.stderr);

    const r = await ok(pullArgs(ref), AFTER_KILL);
    expect(r.stdout).toBe(`${img.configDigest.slice(7)}\n`);
    expectSilentRepair(r.stderr);
    expect(await images()).toEqual([...before, `${ref} ${img.configDigest.slice(7, 19)}`].sort());
    const inspect = await ok(['image', 'inspect', '--format', '{{.Id}} {{len .RootFS.Layers}}', ref], AFTER_KILL);
    expect(inspect.stdout).toBe(`${img.configDigest.slice(7)} 2\n`);
    expectSilentRepair(inspect.stderr);
  });

  it('at arbitrary moments: every following command works silently, and the final pull succeeds', async () => {
    const img = bigImage('chaos', 3, 2 << 20);
    const ref = reg.addImage('crash/chaos', 'latest', img);
    reg.chunkSize = 64 * 1024; // ~100 ms per MiB: a pull takes about a second
    reg.chunkDelayMs = 5;
    try {
      for (const delay of [50, 150, 300, 500, 800, 1200]) {
        const run = startAsUser(pullArgs(ref));
        await new Promise((r) => setTimeout(r, delay));
        killGroup(run);
        const res = await run.done;
        // the pull either finished before the kill, or was killed
        expect(res.code === 0 || res.signal === 'SIGKILL', `after ${delay} ms: ${res.code} ${res.signal} ${res.stderr}`).toBe(true);
        const list = await images();
        const present = list.includes(`${ref} ${img.configDigest.slice(7, 19)}`);
        const exists = await tspod(['image', 'exists', ref], AFTER_KILL);
        expect(exists.code).toBe(present ? 0 : 1);
        expectSilentRepair(exists.stderr);
        if (present) {
          // a listed image is complete
          const layers = await ok(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', ref], AFTER_KILL);
          expect(layers.stdout).toBe('3\n');
          expectSilentRepair(layers.stderr);
          const rm = await ok(['rmi', ref], AFTER_KILL);
          expect(rm.stdout).toBe(`Untagged: ${ref}\nDeleted: ${img.configDigest.slice(7)}\n`);
          expectSilentRepair(rm.stderr);
        }
      }
    } finally {
      reg.chunkSize = 0;
      reg.chunkDelayMs = 0;
    }
    const r = await ok(pullArgs(ref), AFTER_KILL);
    expect(r.stdout).toBe(`${img.configDigest.slice(7)}\n`);
    expectSilentRepair(r.stderr);
  });
});
