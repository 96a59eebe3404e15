import { describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import type { RootfsStat, RootfsView } from '../../src/runtime/confine.js';
import { defaultSeccompProfile, parseSeccompProfile, seccompToOci } from '../../src/runtime/seccomp.js';
import {
  DEFAULT_CAPABILITIES,
  generateSpec,
  imageVolumeDestinations,
  makeArgs,
  parseDevice,
  parseRamInBytes,
  parseSignal,
  parseTmpfs,
  parseUlimit,
  RLIM_INFINITY,
  specToJson,
  type OciSpec,
  type SpecInput,
} from '../../src/runtime/spec.js';

// In-memory root filesystem honouring the RootfsView contract (see runtime-confine.test.ts).
type Node = { type: 'dir' } | { type: 'file'; content: string } | { type: 'symlink'; target: string };
class FakeRoot implements RootfsView {
  nodes = new Map<string, Node>([['/', { type: 'dir' }]]);
  mkdirs: string[] = [];
  constructor(tree: Record<string, string | Node> = {}) {
    for (const [p, v] of Object.entries(tree)) {
      const parts = p.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const d = `/${parts.slice(0, i).join('/')}`;
        if (!this.nodes.has(d)) this.nodes.set(d, { type: 'dir' });
      }
      this.nodes.set(p, typeof v === 'string' ? { type: 'file', content: v } : v);
    }
  }
  private check(p: string): void {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      if (this.nodes.get(`/${parts.slice(0, i).join('/')}`)?.type === 'symlink') throw new Error(`path through a symlink: ${p}`);
    }
  }
  lstat(p: string): RootfsStat | null {
    this.check(p);
    const n = this.nodes.get(p);
    return n ? { type: n.type } : null;
  }
  readlink(p: string): string {
    const n = this.nodes.get(p);
    if (n?.type !== 'symlink') throw new Error('EINVAL');
    return n.target;
  }
  readFile(p: string): Buffer | null {
    this.check(p);
    const n = this.nodes.get(p);
    if (!n) return null;
    if (n.type !== 'file') throw new TspodError('hostile-content', 'not regular');
    return Buffer.from(n.content);
  }
  mkdir(p: string): void {
    this.check(p);
    this.mkdirs.push(p);
    this.nodes.set(p, { type: 'dir' });
  }
}
const link = (target: string): Node => ({ type: 'symlink', target });
const dir: Node = { type: 'dir' };

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n';
const GROUP = 'root:x:0:\nwheel:x:10:alice\n';
function rootfs(extra: Record<string, string | Node> = {}): FakeRoot {
  return new FakeRoot({ '/etc/passwd': PASSWD, '/etc/group': GROUP, '/dev': dir, '/proc': dir, '/sys': dir, '/tmp': dir, ...extra });
}

const ID = 'c0ffee'.repeat(10) + 'abcd';
function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: ID,
    rootfs: '/var/lib/tspod/c/rootfs',
    view: rootfs(),
    image: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'] },
    rootless: true,
    rootlessIds: { uid: 1001, gid: 1001, subUidSize: 65536, subGidSize: 65536 },
    cgroupsAvailable: false,
    cgroupsMode: 'hybrid',
    hostRlimits: { nofile: { soft: 1024, hard: 20000 }, nproc: { soft: 7000, hard: 7000 } },
    arch: 'x64',
    ...over,
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof FakeRoot) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
/** Freezes everything but the view, then generates. A shared array would make a later mutation throw. */
function gen(over: Partial<SpecInput> = {}): OciSpec {
  const inp = input(over);
  const { view, ...rest } = inp;
  deepFreeze(rest);
  return generateSpec({ ...rest, view });
}
function fail(over: Partial<SpecInput>): TspodError {
  try {
    gen(over);
  } catch (e) {
    if (e instanceof TspodError) return e;
    throw e;
  }
  throw new Error('expected an error');
}
const mount = (s: OciSpec, d: string) => s.mounts.find((m) => m.destination === d);
const envOf = (s: OciSpec) => Object.fromEntries(s.process.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

describe('process args: Docker entrypoint/cmd matrix', () => {
  const cases: Array<[string, Parameters<typeof makeArgs>, string[] | null]> = [
    ['image Cmd only', [{ Cmd: ['sh'] }], ['sh']],
    ['image Entrypoint + Cmd', [{ Entrypoint: ['ep'], Cmd: ['c'] }], ['ep', 'c']],
    ['image Entrypoint only', [{ Entrypoint: ['ep'] }], ['ep']],
    ['command replaces Cmd', [{ Entrypoint: ['ep'], Cmd: ['c'] }, ['x', 'y']], ['ep', 'x', 'y']],
    ['command without Entrypoint', [{ Cmd: ['c'] }, ['x']], ['x']],
    ['--entrypoint drops Cmd', [{ Entrypoint: ['ep'], Cmd: ['c'] }, undefined, 'new'], ['new']],
    ['--entrypoint + command', [{ Entrypoint: ['ep'], Cmd: ['c'] }, ['x'], 'new'], ['new', 'x']],
    ["--entrypoint '' + command", [{ Entrypoint: ['ep'], Cmd: ['c'] }, ['x'], ''], ['x']],
    ["--entrypoint '' alone", [{ Entrypoint: ['ep'], Cmd: ['c'] }, undefined, ''], null],
    ['--entrypoint JSON array', [{ Cmd: ['c'] }, ['x'], '["a","b c"]'], ['a', 'b c', 'x']],
    ['--entrypoint not JSON', [{}, undefined, '[oops'], ['[oops']],
    ['--entrypoint list', [{}, ['x'], ['a', 'b']], ['a', 'b', 'x']],
    ['image Entrypoint [""]', [{ Entrypoint: [''], Cmd: ['c'] }], ['c']],
    ['nothing at all', [{}], null],
    ['no image', [undefined, ['true']], ['true']],
    ['null fields', [{ Entrypoint: null, Cmd: null }, ['x']], ['x']],
  ];
  for (const [name, a, want] of cases) {
    it(name, () => {
      if (want) expect(makeArgs(...a)).toEqual(want);
      else expect(() => makeArgs(...a)).toThrow('no command or entrypoint provided, and no CMD or ENTRYPOINT from image');
    });
  }
  it('is an invalid-argument error with exit 125', () => {
    const e = fail({ image: {} });
    expect(e.code).toBe('invalid-argument');
    expect(e.exitCode).toBe(125);
  });
  it('--init puts catatonit first and bind-mounts it', () => {
    const s = gen({ init: true, initPath: '/usr/bin/catatonit', command: ['top'] });
    expect(s.process.args).toEqual(['/dev/init', '--', 'top']);
    expect(mount(s, '/dev/init')).toMatchObject({ type: 'bind', source: '/usr/bin/catatonit' });
    expect(mount(s, '/dev/init')?.options).toContain('ro');
  });
});

describe('environment', () => {
  it('merges defaults, image, env-file, -e in order', () => {
    const s = gen({
      image: { Cmd: ['sh'], Env: ['PATH=/img', 'A=image', 'B=image', 'container=docker'] },
      envFile: ['B=file', 'C=file'],
      env: ['C=flag', 'FROMHOST', 'MISSING', 'GLOB_*'],
      hostEnv: { FROMHOST: 'h', GLOB_1: 'g1', GLOB_2: 'g2', SECRET: 's' },
    });
    expect(envOf(s)).toEqual({
      PATH: '/img',
      container: 'docker',
      A: 'image',
      B: 'file',
      C: 'flag',
      FROMHOST: 'h',
      GLOB_1: 'g1',
      GLOB_2: 'g2',
      HOSTNAME: ID.slice(0, 12),
      HOME: '/root',
    });
  });
  it('adds the default PATH, container=tspod, TERM only with a tty', () => {
    const e = envOf(gen({ image: { Cmd: ['sh'] } }));
    expect(e.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(e.container).toBe('tspod');
    expect(e.TERM).toBeUndefined();
    expect(envOf(gen({ tty: true })).TERM).toBe('xterm');
    expect(envOf(gen({ tty: true, env: ['TERM=vt100'] })).TERM).toBe('vt100');
  });
  it('--env-host copies the host environment under the flags', () => {
    const e = envOf(gen({ envHost: true, hostEnv: { X: '1', PATH: '/host' }, env: ['X=2'] }));
    expect(e).toMatchObject({ X: '2', PATH: '/host' });
  });
  it('HOME and HOSTNAME come from passwd/hostname unless set', () => {
    expect(envOf(gen({ user: 'alice', hostname: 'box' }))).toMatchObject({ HOME: '/home/alice', HOSTNAME: 'box' });
    expect(envOf(gen({ user: 'alice', env: ['HOME=/x', 'HOSTNAME=y'] }))).toMatchObject({ HOME: '/x', HOSTNAME: 'y' });
  });
  it('refuses malformed -e', () => {
    expect(fail({ env: ['=x'] }).code).toBe('invalid-argument');
    expect(fail({ env: ['A\0=x'] }).code).toBe('invalid-argument');
  });
  it('skips malformed image entries', () => {
    expect(gen({ image: { Cmd: ['sh'], Env: ['NOEQ', '=v', 'OK=1'] } }).process.env).toContain('OK=1');
  });
});

describe('no shared state (CVE-2020-14370)', () => {
  it('never aliases the input or the defaults', () => {
    const inp = input({
      env: ['A=1'],
      capAdd: ['NET_ADMIN'],
      binds: [{ source: '/h', destination: '/d', options: ['ro'] }],
      annotations: { k: 'v' },
      securityOpt: ['mask=/proc/x'],
    });
    const { view, ...rest } = inp;
    deepFreeze(rest);
    const a = generateSpec({ ...rest, view });
    const b = generateSpec({ ...rest, view });
    expect(a).toEqual(b);
    // mutate every array and object of the first result: nothing may be frozen (= shared with input)
    const mutate = (o: unknown): void => {
      if (Array.isArray(o)) {
        o.forEach(mutate);
        o.push('X');
      } else if (o && typeof o === 'object') {
        Object.values(o).forEach(mutate);
        (o as Record<string, unknown>).__x = 1;
      }
    };
    mutate(a);
    const c = generateSpec({ ...rest, view });
    expect(c).toEqual(b);
    expect(DEFAULT_CAPABILITIES).toHaveLength(11);
    expect(defaultSeccompProfile().syscalls[0].names).not.toContain('X');
  });
  it('the default seccomp profile is a fresh copy each time', () => {
    const p = defaultSeccompProfile();
    p.syscalls[1].names.push('reboot-please');
    expect(defaultSeccompProfile().syscalls[1].names).not.toContain('reboot-please');
  });
});

describe('user', () => {
  it('uses -u over the image User; numeric ids need no passwd entry', () => {
    expect(gen({ image: { Cmd: ['sh'], User: 'alice' } }).process.user).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [1000, 10] });
    expect(gen({ image: { Cmd: ['sh'], User: 'alice' }, user: '33:44' }).process.user).toEqual({ uid: 33, gid: 44, umask: 0o22, additionalGids: [44] });
  });
  it('refuses bad ids instead of running as root (CVE-2024-40635)', () => {
    for (const u of ['-1', '2147483648', '1.5', '0x10', 'alice:', ':0']) {
      expect(fail({ user: u }).code).toBe('invalid-argument');
      expect(fail({ image: { Cmd: ['sh'], User: u } }).code).toBe('invalid-argument');
    }
    expect(fail({ user: 'mallory' }).message).toBe('unable to find user mallory: no matching entries in passwd file');
  });
  it('--group-add resolves in the container', () => {
    expect(gen({ user: 'alice', groupAdd: ['root', '99'] }).process.user.additionalGids).toEqual([1000, 10, 0, 99]);
    expect(fail({ groupAdd: ['nogroup'] }).code).toBe('invalid-argument');
  });
});

describe('capabilities', () => {
  const defaults = [
    'CAP_CHOWN',
    'CAP_DAC_OVERRIDE',
    'CAP_FOWNER',
    'CAP_FSETID',
    'CAP_KILL',
    'CAP_NET_BIND_SERVICE',
    'CAP_SETFCAP',
    'CAP_SETGID',
    'CAP_SETPCAP',
    'CAP_SETUID',
    'CAP_SYS_CHROOT',
  ];
  it("podman's defaults for root, inheritable and ambient empty (CVE-2022-27649)", () => {
    const c = gen().process.capabilities;
    expect(c).toEqual({ bounding: defaults, effective: defaults, permitted: defaults, inheritable: [], ambient: [] });
  });
  it('cap-add/cap-drop with or without CAP_, any case', () => {
    const c = gen({ capAdd: ['net_admin', 'CAP_NET_RAW'], capDrop: ['chown', 'CAP_KILL'] }).process.capabilities;
    expect(c.bounding).toEqual(
      [...defaults.filter((x) => x !== 'CAP_CHOWN' && x !== 'CAP_KILL'), 'CAP_NET_ADMIN', 'CAP_NET_RAW'].sort(),
    );
    expect(c.inheritable).toEqual([]);
  });
  it('drop ALL keeps only the added ones; add ALL gives the bounding set', () => {
    expect(gen({ capDrop: ['ALL'], capAdd: ['chown'] }).process.capabilities.effective).toEqual(['CAP_CHOWN']);
    expect(gen({ capDrop: ['all'] }).process.capabilities.bounding).toEqual([]);
    const all = gen({ capAdd: ['ALL'], boundingSet: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] }).process.capabilities;
    expect(all.bounding).toEqual(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  });
  it('refuses nonsense', () => {
    expect(fail({ capAdd: ['CAP_FLY'] }).message).toBe('"CAP_FLY": unknown capability');
    expect(fail({ capAdd: ['chown'], capDrop: ['CHOWN'] }).code).toBe('invalid-argument');
    expect(fail({ capAdd: ['ALL'], capDrop: ['ALL'] }).code).toBe('invalid-argument');
  });
  it('never exceeds the engine bounding set', () => {
    const c = gen({ boundingSet: ['CAP_CHOWN', 'CAP_KILL'], capAdd: ['SYS_ADMIN'] }).process.capabilities;
    expect(c.bounding).toEqual(['CAP_CHOWN', 'CAP_KILL']);
  });
  it('a non-root user gets no effective/permitted capabilities, except explicitly added ones', () => {
    const c = gen({ user: 'alice' }).process.capabilities;
    expect(c).toEqual({ bounding: defaults, effective: [], permitted: [], inheritable: [], ambient: [] });
    const d = gen({ user: '1000', capAdd: ['NET_BIND_SERVICE'] }).process.capabilities;
    expect(d.effective).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(d.ambient).toEqual(['CAP_NET_BIND_SERVICE']);
    // the kernel needs ambient ⊆ inheritable: podman gives exactly the requested ones, never the defaults
    expect(d.inheritable).toEqual(['CAP_NET_BIND_SERVICE']);
  });
});

describe('mounts', () => {
  it('has the podman system mounts (rootless, private network)', () => {
    const s = gen();
    expect(s.mounts.slice(0, 7)).toEqual([
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ]);
  });
  it('drops gid=5 on devpts when gid 5 is not mapped', () => {
    const s = gen({ rootlessIds: { uid: 1001, gid: 1001, subUidSize: 0, subGidSize: 0 } });
    expect(mount(s, '/dev/pts')?.options).not.toContain('gid=5');
  });
  it('--shm-size', () => {
    expect(mount(gen({ shmSize: '128m' }), '/dev/shm')?.options).toContain('size=131072k');
    expect(mount(gen({ shmSize: '1000' }), '/dev/shm')?.options).toContain('size=1000');
    expect(fail({ shmSize: 'lots' }).code).toBe('invalid-argument');
    expect(fail({ shmSize: '0' }).code).toBe('invalid-argument');
  });
  it('host network rootless: /sys is a read-only bind and /sys/kernel is masked', () => {
    const s = gen({ network: 'host' });
    expect(mount(s, '/sys')).toEqual({
      destination: '/sys',
      type: 'bind',
      source: '/sys',
      options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'ro', 'rbind'],
    });
    expect(s.linux.maskedPaths).toContain('/sys/kernel');
    expect(s.linux.namespaces.map((n) => n.type)).not.toContain('network');
  });
  it('host network as root: sysfs is mounted', () => {
    expect(mount(gen({ network: 'host', rootless: false }), '/sys')?.type).toBe('sysfs');
  });
  it('--tmpfs', () => {
    const s = gen({ tmpfs: ['/run/x:size=10m,mode=1777,exec', '/scratch'] });
    expect(mount(s, '/run/x')).toEqual({
      destination: '/run/x',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['rw', 'nosuid', 'nodev', 'size=10m', 'mode=1777'],
    });
    expect(mount(s, '/scratch')?.options).toEqual(['rw', 'nosuid', 'nodev']);
    expect(parseTmpfs('/x:noexec,ro').options).toEqual(['ro', 'noexec', 'nosuid', 'nodev']);
    expect(() => parseTmpfs('/x:size=1,evil=2')).toThrow(TspodError);
    expect(() => parseTmpfs('/x:mode=999')).toThrow(TspodError);
    expect(() => parseTmpfs('rel')).toThrow(TspodError);
  });
  it('binds and volumes: ro/rw, nosuid/nodev, rbind, destinations normalised', () => {
    const s = gen({
      binds: [{ source: '/home/u/src', destination: '/src/../code/', options: ['ro', 'z', 'U'] }],
      volumes: [{ source: '/vols/data/_data', destination: '/data' }],
    });
    expect(mount(s, '/code')).toEqual({
      destination: '/code',
      type: 'bind',
      source: '/home/u/src',
      options: ['rbind', 'rprivate', 'ro', 'nodev', 'nosuid'],
    });
    expect(mount(s, '/data')?.options).toEqual(['rbind', 'rprivate', 'rw', 'nodev', 'nosuid']);
    expect(fail({ binds: [{ source: '/a', destination: '/b', options: ['bogus'] }] }).code).toBe('invalid-argument');
    expect(fail({ binds: [{ source: 'rel', destination: '/b' }] }).code).toBe('invalid-argument');
  });
  for (const d of ['/proc', '/sys', '/dev', '/', '/proc/sys', '/proc/1/root', '//proc/', '/x/../dev']) {
    it(`refuses a volume on ${d}`, () => {
      const e = fail({ binds: [{ source: '/h', destination: d }] });
      expect(e.code).toBe('invalid-argument');
    });
  }
  it('allows runc-whitelisted /proc files (lxcfs) and paths under /dev and /sys', () => {
    const s = gen({
      binds: [
        { source: '/var/lib/lxcfs/proc/meminfo', destination: '/proc/meminfo' },
        { source: '/dev/log', destination: '/dev/log' },
      ],
    });
    expect(mount(s, '/proc/meminfo')).toBeDefined();
    expect(mount(s, '/dev/log')).toBeDefined();
  });
  it('refuses relative and duplicate destinations', () => {
    expect(fail({ binds: [{ source: '/h', destination: 'data' }] }).code).toBe('invalid-argument');
    expect(fail({ binds: [{ source: '/h', destination: '/d' }], tmpfs: ['/d/'] }).code).toBe('invalid-argument');
  });
  it('resolves destinations through in-root symlinks, and refuses links onto /proc', () => {
    const view = rootfs({ '/data': link('../../srv/data'), '/mnt': link('/proc'), '/srv': dir });
    const s = generateSpec(input({ view, binds: [{ source: '/h', destination: '/data/sub' }] }));
    expect(mount(s, '/srv/data/sub')?.source).toBe('/h');
    expect(() => generateSpec(input({ view, binds: [{ source: '/h', destination: '/mnt' }] }))).toThrow(/resolves to \/proc/);
  });
  it('user mounts replace system and engine mounts on the same destination', () => {
    const s = gen({
      binds: [
        { source: '/big-shm', destination: '/dev/shm' },
        { source: '/my/hosts', destination: '/etc/hosts' },
      ],
      etcFiles: { hosts: '/run/c/hosts', resolvConf: '/run/c/resolv.conf' },
    });
    expect(s.mounts.filter((m) => m.destination === '/dev/shm')).toEqual([
      { destination: '/dev/shm', type: 'bind', source: '/big-shm', options: ['rbind', 'rprivate', 'rw', 'nodev', 'nosuid'] },
    ]);
    expect(s.mounts.filter((m) => m.destination === '/etc/hosts').map((m) => m.source)).toEqual(['/my/hosts']);
    expect(mount(s, '/etc/resolv.conf')).toEqual({
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: '/run/c/resolv.conf',
      options: ['bind', 'rprivate'],
    });
  });
  it('orders parents before children', () => {
    const s = gen({ binds: [{ source: '/a', destination: '/x/y/z' }, { source: '/b', destination: '/x' }], tmpfs: ['/x/y'] });
    const order = s.mounts.map((m) => m.destination).filter((d) => d.startsWith('/x'));
    expect(order).toEqual(['/x', '/x/y', '/x/y/z']);
  });
  it('image VOLUMEs are normalised, confined and get the caller-made sources', () => {
    const image = { Cmd: ['sh'], Volumes: { '/var/lib/../../data/': {}, 'rel/dir': {}, '/data': {} } };
    expect(imageVolumeDestinations(image)).toEqual(['/data', '/rel/dir']);
    const s = gen({ image, imageVolumeSources: { '/data': '/vol/a', '/rel/dir': '/vol/b' } });
    expect(mount(s, '/data')?.source).toBe('/vol/a');
    expect(mount(s, '/rel/dir')?.source).toBe('/vol/b');
    expect(mount(gen({ image, imageVolumeMode: 'tmpfs' }), '/data')?.type).toBe('tmpfs');
    expect(mount(gen({ image, imageVolumeMode: 'ignore' }), '/data')).toBeUndefined();
    expect(fail({ image }).code).toBe('internal');
    // a user volume on the same path wins
    expect(mount(gen({ image, imageVolumeMode: 'tmpfs', binds: [{ source: '/u', destination: '/data' }] }), '/data')?.source).toBe('/u');
  });
  for (const v of ['/proc', '/../../dev', '/sys/', '/']) {
    it(`refuses an image VOLUME ${v}`, () => {
      expect(fail({ image: { Cmd: ['sh'], Volumes: { [v]: {} } }, imageVolumeMode: 'tmpfs' }).code).toBe('hostile-content');
    });
  }
  it('refuses an image VOLUME whose path resolves to /proc', () => {
    const view = rootfs({ '/v': link('/proc') });
    expect(() => generateSpec(input({ view, image: { Cmd: ['sh'], Volumes: { '/v': {} } }, imageVolumeMode: 'tmpfs' }))).toThrow(
      /refusing/,
    );
  });
  it('--read-only adds tmpfs on /run /tmp /var/tmp unless --read-only-tmpfs=false', () => {
    const s = gen({ readOnly: true });
    expect(s.root.readonly).toBe(true);
    expect(['/run', '/tmp', '/var/tmp'].map((d) => mount(s, d)?.type)).toEqual(['tmpfs', 'tmpfs', 'tmpfs']);
    expect(mount(gen({ readOnly: true, readOnlyTmpfs: false }), '/tmp')).toBeUndefined();
  });
  it('devices: rootless binds the node, root mode creates it and allows it in the device cgroup', () => {
    const s = gen({ devices: ['/dev/fuse'] });
    expect(mount(s, '/dev/fuse')).toEqual({
      destination: '/dev/fuse',
      type: 'bind',
      source: '/dev/fuse',
      options: ['rbind', 'rslave', 'nosuid', 'noexec', 'rw'],
    });
    expect(mount(gen({ devices: ['/dev/fuse:/dev/f2:r'] }), '/dev/f2')?.options).toContain('ro');
    const r = gen({ rootless: false, devices: ['/dev/fuse:rw'], hostDevices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] });
    expect(r.linux.devices).toEqual([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(r.linux.resources?.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    ]);
    expect(parseDevice('/dev/sda:/dev/xvda:rwm')).toEqual({ source: '/dev/sda', destination: '/dev/xvda', permissions: 'rwm' });
    for (const bad of ['', 'dev/fuse', '/dev/fuse:x', '/dev/fuse:/a:rwx', '/a:/b:r:w', '/dev/fuse:rr']) {
      expect(() => parseDevice(bad)).toThrow(TspodError);
    }
    expect(fail({ devices: ['/dev/fuse:/dev'] }).code).toBe('invalid-argument');
  });
});

describe('confinement through generateSpec', () => {
  it('refuses an image whose /dev is a symlink', () => {
    const e = fail({ view: rootfs({ '/dev': link('/tmp/dev') }) });
    expect(e.code).toBe('hostile-content');
  });
  it('creates a missing workdir inside the root, through a symlink, and keeps cwd as given', () => {
    const view = rootfs({ '/app': link('/../../opt/app'), '/opt': dir });
    const s = generateSpec(input({ view, workdir: '/app/run' }));
    expect(s.process.cwd).toBe('/app/run');
    expect(view.mkdirs).toEqual(['/opt/app', '/opt/app/run']);
  });
  it('uses the image WorkingDir, normalised, else /', () => {
    expect(gen({ image: { Cmd: ['sh'], WorkingDir: 'srv/../app/' } }).process.cwd).toBe('/app');
    expect(gen().process.cwd).toBe('/');
    expect(fail({ workdir: 'rel' }).code).toBe('invalid-argument');
  });
  it('creates nothing when a check fails', () => {
    const view = rootfs();
    expect(() => generateSpec(input({ view, workdir: '/new', user: 'nobody' }))).toThrow(TspodError);
    expect(view.mkdirs).toEqual([]);
  });
});

describe('user namespace', () => {
  it('rootless default: no user namespace, the pause namespace is used', () => {
    const s = gen();
    expect(s.linux.namespaces).toEqual([{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }]);
    expect(s.linux.uidMappings).toBeUndefined();
  });
  it('keep-id maps the host user onto itself (podman getRootlessKeepIDMapping)', () => {
    const s = gen({ userns: 'keep-id' });
    expect(s.linux.namespaces.map((n) => n.type)).toContain('user');
    expect(s.linux.uidMappings).toEqual([
      { containerID: 0, hostID: 1, size: 1001 },
      { containerID: 1001, hostID: 0, size: 1 },
      { containerID: 1002, hostID: 1002, size: 64535 }, // up to pause-ns id 65536
    ]);
    expect(s.linux.gidMappings).toEqual(s.linux.uidMappings);
    expect(s.process.user).toMatchObject({ uid: 1001, gid: 1001 });
    expect(s.process.capabilities.effective).toEqual([]);
  });
  it('keep-id:uid=,gid= and small ranges', () => {
    const s = gen({ userns: 'keep-id:uid=0,gid=0' });
    expect(s.linux.uidMappings).toEqual([
      { containerID: 0, hostID: 0, size: 1 },
      { containerID: 1, hostID: 1, size: 65536 },
    ]);
    const t = gen({ userns: 'keep-id', rootlessIds: { uid: 1001, gid: 1001, subUidSize: 500, subGidSize: 3 } });
    expect(t.linux.uidMappings).toEqual([
      { containerID: 0, hostID: 1, size: 500 },
      { containerID: 1001, hostID: 0, size: 1 },
    ]);
    expect(mount(t, '/dev/pts')?.options).not.toContain('gid=5');
  });
  it('-u wins over keep-id', () => {
    expect(gen({ userns: 'keep-id', user: '0' }).process.user.uid).toBe(0);
  });
  it('refuses what it does not do', () => {
    expect(fail({ userns: 'auto' }).code).toBe('unsupported');
    expect(fail({ userns: 'keep-id', rootless: false }).code).toBe('unsupported');
    expect(fail({ userns: 'keep-id:uid=-1' }).code).toBe('invalid-argument');
  });
});

describe('namespaces', () => {
  it('network modes', () => {
    expect(gen({ network: 'none' }).linux.namespaces).toContainEqual({ type: 'network' });
    expect(gen({ network: 'private', netnsPath: '/run/user/1/netns/x' }).linux.namespaces).toContainEqual({
      type: 'network',
      path: '/run/user/1/netns/x',
    });
    expect(gen({ network: 'ns:/proc/5/ns/net' }).linux.namespaces).toContainEqual({ type: 'network', path: '/proc/5/ns/net' });
  });
  it('pid/ipc/uts host', () => {
    const s = gen({ pid: 'host', ipc: 'host', uts: 'host', hostHostname: 'h' });
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['network', 'mount', 'cgroup']);
    expect(mount(s, '/proc')?.type).toBe('bind');
    expect(mount(s, '/dev/shm')?.type).toBe('bind');
    expect(mount(s, '/dev/mqueue')?.type).toBe('bind');
    expect(s.hostname).toBeUndefined();
    expect(envOf(s).HOSTNAME).toBe('h');
    expect(fail({ uts: 'host', hostname: 'x' }).code).toBe('invalid-argument');
    expect(fail({ pid: 'container:abc' }).code).toBe('unsupported');
  });
  it('hostname defaults to the short id, or the host name with --network host', () => {
    expect(gen().hostname).toBe(ID.slice(0, 12));
    expect(gen({ network: 'host', hostHostname: 'myhost' }).hostname).toBe('myhost');
    expect(gen({ hostname: 'web' }).hostname).toBe('web');
    for (const h of ['a b', 'x\ny', 'a/b', 'h'.repeat(65), '-x']) expect(fail({ hostname: h }).code).toBe('invalid-argument');
  });
  it('the cgroup namespace is always private', () => {
    for (const over of [{}, { privileged: true }, { network: 'host', pid: 'host' }, { rootless: false }]) {
      expect(gen(over).linux.namespaces).toContainEqual({ type: 'cgroup' });
    }
  });
});

describe('security options', () => {
  it('masked and readonly paths by default', () => {
    const s = gen();
    expect(s.linux.maskedPaths).toEqual(
      expect.arrayContaining(['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/fs/selinux']),
    );
    expect(s.linux.readonlyPaths).toEqual(['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(s.process.noNewPrivileges).toBe(false);
  });
  it('no-new-privileges, mask, unmask', () => {
    const s = gen({ securityOpt: ['no-new-privileges', 'mask=/proc/cpuinfo:/sys/power', 'unmask=/proc/k*', 'label=disable'] });
    expect(s.process.noNewPrivileges).toBe(true);
    expect(s.linux.maskedPaths).toEqual(expect.arrayContaining(['/proc/cpuinfo', '/sys/power']));
    expect(s.linux.maskedPaths).not.toContain('/proc/kcore');
    expect(s.linux.maskedPaths).not.toContain('/proc/keys');
    expect(s.linux.maskedPaths).toContain('/proc/acpi');
    expect(gen({ securityOpt: ['no-new-privileges:false'] }).process.noNewPrivileges).toBe(false);
    const all = gen({ securityOpt: ['unmask=ALL'] });
    expect(all.linux.maskedPaths).toEqual([]);
    expect(all.linux.readonlyPaths).toEqual([]);
    expect(mount(all, '/sys/fs/cgroup')?.options).toContain('rw');
    expect(fail({ securityOpt: ['bogus=1'] }).code).toBe('invalid-argument');
    expect(fail({ securityOpt: ['no-new-privileges=maybe'] }).code).toBe('invalid-argument');
    expect(fail({ securityOpt: ['mask=relative'] }).code).toBe('invalid-argument');
  });
  it('--privileged: all caps, no seccomp, no masks, rw sysfs, host devices bound (rootless)', () => {
    const s = gen({
      privileged: true,
      boundingSet: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_CHOWN'],
      hostDevices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
        { path: '/dev/tty0', type: 'c', major: 4, minor: 0 },
        { path: '/dev/ptmx', type: 'c', major: 5, minor: 2 },
      ],
    });
    expect(s.process.capabilities.effective).toEqual(['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(s.process.capabilities.inheritable).toEqual([]);
    expect(s.linux.seccomp).toBeUndefined();
    expect(s.linux.maskedPaths).toEqual([]);
    expect(s.linux.readonlyPaths).toEqual([]);
    expect(mount(s, '/sys')?.options).toContain('rw');
    expect(mount(s, '/dev/fuse')?.type).toBe('bind');
    expect(mount(s, '/dev/tty0')).toBeUndefined();
    expect(mount(s, '/dev/ptmx')).toBeUndefined();
    expect(s.annotations['io.podman.annotations.privileged']).toBe('TRUE');
  });
  it('--privileged as root: device nodes and an allow-all device cgroup', () => {
    const s = gen({ rootless: false, privileged: true, hostDevices: [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }] });
    expect(s.linux.devices).toEqual([{ path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(s.linux.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });
  it('--privileged keeps an explicitly given seccomp profile', () => {
    const json = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }] });
    const s = gen({ privileged: true, securityOpt: ['seccomp=/etc/p.json'], seccompProfileJson: json });
    expect(s.linux.seccomp).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }] });
  });
});

describe('seccomp', () => {
  it('the default profile: ENOSYS for unknown, EPERM for the listed, per-arch', () => {
    const s = gen().linux.seccomp!;
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.defaultErrnoRet).toBe(38);
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(s.syscalls![0]).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    expect(s.syscalls![0].names).toEqual(expect.arrayContaining(['kexec_load', 'swapon', 'userfaultfd']));
    const allowed = s.syscalls!.filter((c) => c.action === 'SCMP_ACT_ALLOW' && !c.args).flatMap((c) => c.names);
    expect(allowed).toEqual(expect.arrayContaining(['read', 'write', 'execve', 'clone3', 'arch_prctl', 'chroot']));
    expect(allowed).not.toContain('kexec_load');
    expect(allowed).not.toContain('arm_fadvise64_64');
    expect(allowed).not.toContain('bpf');
    const arm = gen({ arch: 'arm64' }).linux.seccomp!;
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(arm.syscalls!.flatMap((c) => c.names)).toContain('arm_fadvise64_64');
    expect(arm.syscalls!.flatMap((c) => c.names)).not.toContain('arch_prctl');
  });
  it("an image of the host's own architecture gets only the native ABI; others and own profiles keep the compat ones", () => {
    expect(gen({ arch: 'x64', imageArch: 'amd64' }).linux.seccomp!.architectures).toEqual(['SCMP_ARCH_X86_64']);
    expect(gen({ arch: 'arm64', imageArch: 'arm64' }).linux.seccomp!.architectures).toEqual(['SCMP_ARCH_AARCH64']);
    // a linux/386 image on amd64 runs 32-bit code: it needs the x86 ABI
    expect(gen({ arch: 'x64', imageArch: '386' }).linux.seccomp!.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const own = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }], syscalls: [] });
    const withOwn = gen({ arch: 'x64', imageArch: 'amd64', securityOpt: ['seccomp=/p.json'], seccompProfileJson: own });
    expect(withOwn.linux.seccomp!.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  });
  it('capability-dependent rules follow the bounding set', () => {
    const eperm = (s: OciSpec) => s.linux.seccomp!.syscalls!.filter((c) => c.errnoRet === 1).flatMap((c) => c.names);
    const allow = (s: OciSpec) => s.linux.seccomp!.syscalls!.filter((c) => c.action === 'SCMP_ACT_ALLOW').flatMap((c) => c.names);
    expect(eperm(gen())).not.toContain('chroot');
    expect(eperm(gen({ capDrop: ['SYS_CHROOT'] }))).toContain('chroot');
    expect(allow(gen({ capDrop: ['SYS_CHROOT'] }))).not.toContain('chroot');
    expect(eperm(gen())).toContain('sethostname');
    expect(allow(gen({ capAdd: ['SYS_ADMIN'] }))).toEqual(expect.arrayContaining(['sethostname', 'bpf', 'setns']));
    expect(allow(gen({ capAdd: ['SYS_PTRACE'] }))).toContain('kcmp');
  });
  it('seccomp=unconfined removes the filter; a custom profile is converted', () => {
    expect(gen({ securityOpt: ['seccomp=unconfined'] }).linux.seccomp).toBeUndefined();
    const json = JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrno: 'EPERM',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
      syscalls: [
        { name: 'read', action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { arches: ['amd64'] } },
      ],
    });
    const s = gen({ securityOpt: ['seccomp=/p.json'], seccompProfileJson: json }).linux.seccomp;
    expect(s).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
    expect(fail({ securityOpt: ['seccomp=/p.json'] }).code).toBe('internal');
  });
  const bad = [
    'not json',
    '[]',
    '{}',
    '{"defaultAction":"SCMP_ACT_PARTY"}',
    '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"NOPE"}]}',
    '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}',
    '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}',
    '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}',
    '{"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":"EWHAT"}',
  ];
  for (const b of bad) it(`refuses profile ${b.slice(0, 60)}`, () => expect(() => parseSeccompProfile(b)).toThrow(TspodError));
  it('accepts the profile podman ships', () => {
    const p = defaultSeccompProfile();
    expect(parseSeccompProfile(JSON.stringify(p))).toEqual(p);
    expect(seccompToOci(p, { bounding: [], arch: 'x64' }).syscalls!.length).toBeGreaterThan(10);
  });
});

describe('rlimits', () => {
  it('rootless defaults: the engine hard limit for both; root: 1048576', () => {
    expect(gen().process.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 },
      { type: 'RLIMIT_NPROC', hard: 7000, soft: 7000 },
    ]);
    expect(gen({ rootless: false }).process.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 },
      { type: 'RLIMIT_NPROC', hard: 1048576, soft: 1048576 },
    ]);
  });
  it('--ulimit overrides; when clamping, -1 is the host hard limit and more is refused', () => {
    const r = gen({ ulimits: ['nofile=1024:2048', 'core=0', 'nproc=-1'] }).process.rlimits;
    expect(r).toEqual([
      { type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 },
      { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
      { type: 'RLIMIT_NPROC', hard: 7000, soft: 7000 },
    ]);
    expect(fail({ ulimits: ['nproc=100000'] }).message).toMatch(/above the engine's own hard limit 7000/);
    expect(gen({ rootless: false, ulimits: ['nproc=100000'] }).process.rlimits[1]).toEqual({ type: 'RLIMIT_NPROC', hard: 100000, soft: 100000 });
    expect(gen({ ulimits: ['host'] }).process.rlimits).toEqual([]);
  });
  it('root without CAP_SYS_RESOURCE clamps too', () => {
    expect(gen({ rootless: false, clampRlimitsToHost: true }).process.rlimits[0]).toEqual({ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 });
  });
  it('-1 is unlimited and serialises exactly', () => {
    const s = gen({ rootless: false, ulimits: ['memlock=-1:-1'] });
    expect(s.process.rlimits[2]).toEqual({ type: 'RLIMIT_MEMLOCK', hard: RLIM_INFINITY, soft: RLIM_INFINITY });
    expect(specToJson(s)).toContain('"hard": 18446744073709551615');
    expect(JSON.parse(specToJson(gen())).ociVersion).toBe('1.0.2-dev');
  });
  const bad: Array<[string, string]> = [
    ['nofile', 'invalid ulimit argument: nofile'],
    ['files=1', 'invalid ulimit type: files'],
    ['nofile=2:1', 'ulimit soft limit must be less than or equal to hard limit: 2 > 1'],
    ['nofile=-1:5', 'ulimit soft limit must be less than or equal to hard limit: -1 > 5'],
    ['nofile=1:2:3', 'too many limit value arguments - 1:2:3, can only have up to two, `soft:hard`'],
    ['nofile=x', 'invalid ulimit argument: nofile=x'],
    ['nofile=1.5', 'invalid ulimit argument: nofile=1.5'],
    ['nofile=-2', 'invalid ulimit argument: nofile=-2'],
    ['nofile=', 'invalid ulimit argument: nofile='],
  ];
  for (const [u, msg] of bad) {
    it(`refuses --ulimit ${u}`, () => {
      expect(() => parseUlimit(u)).toThrow(msg);
      expect(fail({ ulimits: [u] }).code).toBe('invalid-argument');
    });
  }
});

describe('cgroups and resources', () => {
  it('rootless without delegation: no cgroupsPath, and limits are refused clearly', () => {
    expect(gen().linux.cgroupsPath).toBeUndefined();
    expect(gen().linux.resources).toBeUndefined();
    const e = fail({ memory: '512m' });
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/^memory limits require cgroups v2 with delegation; this host has hybrid cgroups/);
    expect(fail({ cpus: '1.5' }).message).toMatch(/^cpu limits require cgroups v2/);
  });
  it('root: memory and cpu limits, cgroupsPath', () => {
    const s = gen({ rootless: false, memory: '512m', cpus: '1.5' });
    expect(s.linux.resources).toEqual({ memory: { limit: 536870912 }, cpu: { quota: 150000, period: 100000 }, devices: [{ allow: false, access: 'rwm' }] });
    expect(s.linux.cgroupsPath).toBe(`/tspod/tspod-${ID}`);
    expect(gen({ rootless: false, cgroupsPath: '/x/y' }).linux.cgroupsPath).toBe('/x/y');
    expect(fail({ rootless: false, memory: '1m' }).message).toBe('minimum memory limit allowed is 6MB');
    expect(fail({ rootless: false, cpus: '0' }).code).toBe('invalid-argument');
    expect(fail({ rootless: false, cpus: '-1' }).code).toBe('invalid-argument');
  });
  it('rootless with delegation may have limits', () => {
    const s = gen({ cgroupsAvailable: true, cgroupsPath: '/user.slice/x', memory: '1g' });
    expect(s.linux.resources).toEqual({ memory: { limit: 2 ** 30 } });
    expect(s.linux.cgroupsPath).toBe('/user.slice/x');
  });
  it('parses sizes like docker/go-units', () => {
    expect(parseRamInBytes('64m', 'x')).toBe(64 * 2 ** 20);
    expect(parseRamInBytes('1.5g', 'x')).toBe(1.5 * 2 ** 30);
    expect(parseRamInBytes('2GiB', 'x')).toBe(2 ** 31);
    expect(parseRamInBytes('100', 'x')).toBe(100);
    expect(() => parseRamInBytes('-1', 'x')).toThrow(TspodError);
    expect(() => parseRamInBytes('1x', 'x')).toThrow(TspodError);
  });
});

describe('annotations and the rest', () => {
  it('annotations, stop signal, terminal, root, oci version', () => {
    const s = gen({ annotations: { 'a.b': 'c' }, image: { Cmd: ['sh'], StopSignal: 'SIGQUIT' }, tty: true, readOnly: false });
    expect(s.ociVersion).toBe('1.0.2-dev');
    expect(s.annotations).toEqual({ 'io.container.manager': 'tspod', 'a.b': 'c', 'org.opencontainers.image.stopSignal': 'SIGQUIT' });
    expect(gen({ stopSignal: '9' }).annotations['org.opencontainers.image.stopSignal']).toBe('SIGKILL');
    expect(s.process.terminal).toBe(true);
    expect(s.root).toEqual({ path: '/var/lib/tspod/c/rootfs', readonly: false });
    expect(fail({ stopSignal: 'SIGNOPE' }).code).toBe('invalid-argument');
    expect(parseSignal('rtmin+2')).toBe(36);
    expect(() => parseSignal('65')).toThrow(TspodError);
  });
});
