// Smoke test: a generated spec is accepted by the real runc and the container runs.
// Requires root and runc (the unit tests run as root on the CI host); skips otherwise.
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import type { RootfsStat, RootfsView } from '../../src/runtime/confine.js';
import { generateSpec, specToJson, type SpecInput } from '../../src/runtime/spec.js';
import { findExecutable } from '../../src/runtime/probe.js';

const runc = findExecutable('runc');
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => {
  try {
    return lstatSync(p).isFile();
  } catch {
    return false;
  }
});
function hostLimit(name: string): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name)) ?? '';
  const [soft, hard] = line.slice(name.length).trim().split(/\s+/).map((v) => (v === 'unlimited' ? 2 ** 53 : Number(v)));
  return { soft, hard };
}
const hasSysResource = (BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`) >> 24n) & 1n;

const canRun = process.getuid?.() === 0 && runc !== undefined && busybox !== undefined;

/** A test-only view over a directory we created ourselves (no hostile content, so plain joins). */
class DirView implements RootfsView {
  constructor(private readonly root: string) {}
  private p(x: string): string {
    return join(this.root, x);
  }
  lstat(x: string): RootfsStat | null {
    try {
      const st = lstatSync(this.p(x));
      return { type: st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' };
    } catch {
      return null;
    }
  }
  readlink(x: string): string {
    return readlinkSync(this.p(x));
  }
  readFile(x: string, max: number): Buffer | null {
    try {
      const b = readFileSync(this.p(x));
      if (b.length > max) throw new TspodError('hostile-content', 'too big');
      return b;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  mkdir(x: string, mode: number): void {
    mkdirSync(this.p(x), { mode });
  }
}

describe.skipIf(!canRun)('runc accepts the generated spec', () => {
  const base = mkdtempSync(join(tmpdir(), 'tspod-runtime-runc-'));
  const state = join(base, 'state');
  const rootfs = join(base, 'bundle', 'rootfs');
  const ids: string[] = [];
  mkdirSync(state);
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'srv']) mkdirSync(join(rootfs, d));
  copyFileSync(busybox as string, join(rootfs, 'bin', 'busybox'));
  for (const n of ['sh', 'echo', 'cat', 'id', 'grep', 'pwd', 'ls']) symlinkSync('busybox', join(rootfs, 'bin', n));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n');
  symlinkSync('/srv/app', join(rootfs, 'app')); // a workdir through an in-root symlink

  afterAll(() => {
    for (const id of ids) spawnSync(runc as string, ['--root', state, 'delete', '--force', id]);
    rmSync(base, { recursive: true, force: true });
  });

  function run(over: Partial<SpecInput>): { status: number | null; stdout: string; stderr: string } {
    const id = `tspod-unit-${process.pid}-${ids.length}`;
    ids.push(id);
    const spec = generateSpec({
      id,
      rootfs,
      view: new DirView(rootfs),
      image: { Cmd: ['echo', 'hi'], Env: ['PATH=/bin'] },
      rootless: false,
      cgroupsAvailable: true,
      tty: false,
      network: 'none',
      hostRlimits: { nofile: hostLimit('Max open files'), nproc: hostLimit('Max processes') },
      clampRlimitsToHost: hasSysResource === 0n,
      ...over,
    });
    writeFileSync(join(base, 'bundle', 'config.json'), specToJson(spec));
    const r = spawnSync(runc as string, ['--root', state, 'run', '--bundle', join(base, 'bundle'), id], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('echo hi prints hi', () => {
    const r = run({});
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    expect(r.status).toBe(0);
  });

  it('has the default capabilities, empty inheritable, the seccomp filter, a created workdir', () => {
    const r = run({
      command: ['sh', '-c', 'grep -E "^(CapInh|CapBnd|CapEff|Seccomp|NoNewPrivs):" /proc/self/status; pwd; echo $HOSTNAME $HOME'],
      workdir: '/app/data',
      hostname: 'smoke',
      securityOpt: ['no-new-privileges'],
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        'CapInh:\t0000000000000000',
        'CapEff:\t00000000800405fb',
        'CapBnd:\t00000000800405fb',
        'NoNewPrivs:\t1',
        'Seccomp:\t2',
        '/srv/app/data',
        'smoke /root',
        '',
      ].join('\n'),
    );
    expect(lstatSync(join(rootfs, 'srv', 'app', 'data')).isDirectory()).toBe(true);
  });

  it('runs as a named user with container groups, no capabilities, masked /proc/keys', () => {
    const r = run({
      user: 'alice',
      tmpfs: ['/scratch'],
      command: ['sh', '-c', 'id; grep CapEff /proc/self/status; echo keys=$(cat /proc/keys | wc -c); ls -d /scratch'],
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['uid=1000(alice) gid=1000(alice) groups=10(wheel),1000(alice)', 'CapEff:\t0000000000000000']);
    expect(r.stdout).toContain('keys=0\n'); // /dev/null bound over it
    expect(r.stdout).toContain('/scratch');
    expect(r.status).toBe(0);
  });

  it('seccomp denies a blocked syscall with EPERM (swapon)', () => {
    const r = run({ command: ['sh', '-c', 'busybox swapon /dev/null; echo rc=$?'] });
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect(r.stdout).toBe('rc=1\n');
  });
});
