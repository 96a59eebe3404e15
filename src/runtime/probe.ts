// Which OCI runtime to use. crun is preferred, but crun 1.8 refuses hybrid cgroup hosts (v1
// controllers + a cgroup2 tree at /sys/fs/cgroup/unified); runc works there. `--runtime` and
// containers.conf [engine] runtime override the probe.
import { execFile } from 'node:child_process';
import { accessSync, constants, statfsSync } from 'node:fs';
import { TspodError } from '../errors.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const TMPFS_MAGIC = 0x01021994;

export type CgroupMode = 'v2' | 'hybrid' | 'v1';

export function cgroupMode(): CgroupMode {
  try {
    const root = statfsSync('/sys/fs/cgroup').type;
    if (root === CGROUP2_SUPER_MAGIC) return 'v2';
    if (root === TMPFS_MAGIC) {
      try {
        if (statfsSync('/sys/fs/cgroup/unified').type === CGROUP2_SUPER_MAGIC) return 'hybrid';
      } catch {
        /* no unified tree */
      }
    }
  } catch {
    /* no cgroupfs at all */
  }
  return 'v1';
}

const SEARCH = ['/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin', '/sbin'];

export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), ...SEARCH];
  for (const d of dirs) {
    const p = `${d}/${name}`;
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RuntimeChoice {
  name: string;
  path: string;
  /** Why this one (for `info`). */
  reason: string;
}

export function chooseRuntime(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): RuntimeChoice {
  if (requested) {
    const path = findExecutable(requested, env);
    if (!path) {
      throw new TspodError('runtime', `could not find OCI runtime "${requested}"`, {
        hint: 'Install it (apt-get install runc) or pass --runtime with a full path',
      });
    }
    return { name: requested.split('/').pop()!, path, reason: 'requested' };
  }
  const mode = cgroupMode();
  const order = mode === 'hybrid' ? ['runc', 'crun'] : ['crun', 'runc'];
  for (const name of order) {
    const path = findExecutable(name, env);
    if (path) return { name, path, reason: mode === 'hybrid' && name === 'runc' ? 'crun does not support hybrid cgroups' : 'first available' };
  }
  throw new TspodError('runtime', 'no OCI runtime found: neither crun nor runc is installed', { hint: 'Install one: sudo apt-get install runc' });
}

export function runtimeVersion(path: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve('unknown');
      const first = stdout.split('\n')[0] ?? '';
      resolve(first.replace(/^\S+ version /, '').trim() || 'unknown');
    });
  });
}
