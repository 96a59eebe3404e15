// The Node-API addon (build/tspod.node, built by `make -C src/native`): argument checking and errno
// reporting. Real mounts are exercised by the e2e tests (every container start mounts its rootfs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/storage/native.js';

const addon = nativeAddon({ TSPOD_LIBEXEC: resolve(__dirname, '../../build') });
const dir = mkdtempSync(join(tmpdir(), 'tspod-addon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tspod.node', () => {
  it('is built and loads', () => {
    expect(addon).not.toBeNull();
  });
  it('umount of a directory that is not a mount point: EINVAL, naming the path', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      addon!.umount(dir, 0);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    // EINVAL (not a mount point) as root; EPERM without CAP_SYS_ADMIN
    expect(err?.code).toMatch(/^(EINVAL|EPERM)$/);
    expect(err?.message).toContain(dir);
  });
  it('mount of a missing fs type or without privilege fails with an errno code', () => {
    expect(() => addon!.mount('none', dir, 'no-such-fs-type', 0, null)).toThrow(/^mount .*: /);
  });
  it('isMountPoint: /proc is one, a plain directory and a missing path are not', () => {
    expect(addon!.isMountPoint('/proc')).toBe(true);
    expect(addon!.isMountPoint(dir)).toBe(false);
    expect(addon!.isMountPoint(join(dir, 'missing'))).toBe(false);
  });
  it('refuses paths with NUL bytes and bad flags instead of truncating them', () => {
    expect(() => addon!.umount(`${dir}\0/etc`, 0)).toThrow(/NUL/);
    expect(() => addon!.umount(dir, -1)).toThrow(/flags/);
    expect(() => addon!.umount(dir, 1.5)).toThrow(/flags/);
    expect(() => (addon!.mount as unknown as (...a: unknown[]) => void)(null, dir)).toThrow(/mount\(source/);
  });
});
