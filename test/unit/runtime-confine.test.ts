import { describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import {
  checkRootfs,
  ensureWorkdir,
  normalizeContainerPath,
  readContainerFile,
  resolveInRoot,
  type RootfsStat,
  type RootfsView,
} from '../../src/runtime/confine.js';
import { parseGroup, parseIdOrName, parsePasswd, parseUserSpec, resolveUser, MAX_ID } from '../../src/runtime/user.js';

// An in-memory root filesystem. It enforces the RootfsView contract: every path it gets is
// absolute, normalised and has no symlink among its parents.
type Node = { type: 'dir' } | { type: 'file'; content: string } | { type: 'symlink'; target: string } | { type: 'other' };
class FakeRoot implements RootfsView {
  nodes = new Map<string, Node>([['/', { type: 'dir' }]]);
  calls: string[] = [];
  constructor(tree: Record<string, string | Node> = {}) {
    for (const [p, v] of Object.entries(tree)) this.put(p, typeof v === 'string' ? { type: 'file', content: v } : v);
  }
  put(p: string, n: Node): void {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = `/${parts.slice(0, i).join('/')}`;
      if (!this.nodes.has(d)) this.nodes.set(d, { type: 'dir' });
    }
    this.nodes.set(p, n);
  }
  private check(p: string): void {
    if (!p.startsWith('/') || (p !== '/' && (p.endsWith('/') || p.includes('//') || /(^|\/)\.\.?(\/|$)/.test(p)))) {
      throw new Error(`view got an unnormalised path ${p}`);
    }
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = `/${parts.slice(0, i).join('/')}`;
      const n = this.nodes.get(d);
      if (n?.type === 'symlink') throw new Error(`view got a path through a symlink: ${p}`);
    }
  }
  lstat(p: string): RootfsStat | null {
    this.check(p);
    this.calls.push(`lstat ${p}`);
    const n = this.nodes.get(p);
    return n ? { type: n.type } : null;
  }
  readlink(p: string): string {
    this.check(p);
    const n = this.nodes.get(p);
    if (n?.type !== 'symlink') throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
    return n.target;
  }
  readFile(p: string, max: number): Buffer | null {
    this.check(p);
    this.calls.push(`read ${p}`);
    const n = this.nodes.get(p);
    if (!n) return null;
    if (n.type !== 'file') throw new TspodError('hostile-content', 'not a regular file');
    const b = Buffer.from(n.content);
    if (b.length > max) throw new TspodError('hostile-content', 'too big');
    return b;
  }
  mkdir(p: string): void {
    this.check(p);
    this.calls.push(`mkdir ${p}`);
    if (this.nodes.has(p)) throw Object.assign(new Error('EEXIST'), { code: 'EEXIST' });
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    if (this.nodes.get(parent)?.type !== 'dir') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    this.nodes.set(p, { type: 'dir' });
  }
}
const link = (target: string): Node => ({ type: 'symlink', target });
const dir: Node = { type: 'dir' };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof TspodError) return e.code;
    throw e;
  }
  return undefined;
}

describe('normalizeContainerPath', () => {
  it('cleans and clamps', () => {
    expect(normalizeContainerPath('/a/./b//c/')).toBe('/a/b/c');
    expect(normalizeContainerPath('/../../etc')).toBe('/etc');
    expect(normalizeContainerPath('/')).toBe('/');
  });
  it('refuses relative and empty paths', () => {
    expect(code(() => normalizeContainerPath('data'))).toBe('invalid-argument');
    expect(code(() => normalizeContainerPath(''))).toBe('invalid-argument');
    expect(code(() => normalizeContainerPath('/a\0b'))).toBe('invalid-argument');
  });
});

describe('resolveInRoot', () => {
  const root = new FakeRoot({
    '/usr/bin': dir,
    '/bin': link('usr/bin'),
    '/abs': link('/usr'),
    '/escape': link('../../../../etc'),
    '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n',
    '/loop1': link('/loop2'),
    '/loop2': link('/loop1'),
    '/hosty': link('/proc'),
    '/proc': dir,
    '/d/up': link('..'),
  });
  const cases: Array<[string, string]> = [
    ['/bin', '/usr/bin'],
    ['/bin/sh', '/usr/bin/sh'],
    ['/abs/bin', '/usr/bin'],
    ['/escape', '/etc'],
    ['/escape/passwd', '/etc/passwd'],
    ['/../../../bin', '/usr/bin'],
    ['/usr/../../../etc', '/etc'],
    ['/missing/x/../y', '/missing/y'],
    ['/hosty', '/proc'],
    ['/d/up/d/up/etc', '/etc'],
    ['/d/up/up/etc', '/up/etc'],
    ['/', '/'],
  ];
  for (const [p, want] of cases) it(`${p} -> ${want}`, () => expect(resolveInRoot(root, p)).toBe(want));

  it('stops symlink loops', () => {
    expect(code(() => resolveInRoot(root, '/loop1/x'))).toBe('hostile-content');
  });
  it('refuses a path through a regular file', () => {
    expect(code(() => resolveInRoot(root, '/etc/passwd/x'))).toBe('invalid-argument');
  });
  it('allows 40 links and refuses 41', () => {
    const tree: Record<string, Node> = { '/target': dir };
    for (let i = 0; i < 41; i++) tree[`/l${i}`] = link(i === 0 ? '/target' : `/l${i - 1}`);
    const r = new FakeRoot(tree);
    expect(resolveInRoot(r, '/l39')).toBe('/target');
    expect(code(() => resolveInRoot(r, '/l40'))).toBe('hostile-content');
  });
});

describe('checkRootfs', () => {
  for (const p of ['/dev', '/proc', '/sys', '/run']) {
    it(`refuses a symlinked ${p}`, () => {
      expect(code(() => checkRootfs(new FakeRoot({ [p]: link('/tmp') })))).toBe('hostile-content');
      expect(code(() => checkRootfs(new FakeRoot({ [p]: link('/') })))).toBe('hostile-content');
    });
    it(`refuses a ${p} that is a file`, () => {
      expect(code(() => checkRootfs(new FakeRoot({ [p]: 'x' })))).toBe('hostile-content');
    });
  }
  for (const p of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']) {
    it(`refuses a symlinked ${p}`, () => {
      expect(code(() => checkRootfs(new FakeRoot({ [p]: link('/etc/shadow') })))).toBe('hostile-content');
    });
    it(`refuses ${p} behind a symlinked /etc`, () => {
      expect(code(() => checkRootfs(new FakeRoot({ '/etc': link('/x'), [`/x/${p.slice(5)}`]: link('/y') })))).toBe(
        'hostile-content',
      );
    });
  }
  it('accepts an ordinary root and an empty one', () => {
    checkRootfs(new FakeRoot({ '/dev': dir, '/proc': dir, '/sys': dir, '/run': dir, '/etc/hosts': '', '/etc/hostname': '' }));
    checkRootfs(new FakeRoot({}));
  });
});

describe('ensureWorkdir', () => {
  it('creates missing components inside the root through an in-root symlink', () => {
    const r = new FakeRoot({ '/app': link('/srv/app'), '/srv': dir });
    expect(ensureWorkdir(r, '/app/data/x')).toBe('/srv/app/data/x');
    expect(r.calls.filter((c) => c.startsWith('mkdir'))).toEqual(['mkdir /srv/app', 'mkdir /srv/app/data', 'mkdir /srv/app/data/x']);
    expect(r.nodes.get('/srv/app/data/x')?.type).toBe('dir');
  });
  it('never follows an absolute or ..-escaping link out of the root', () => {
    const r = new FakeRoot({ '/w': link('../../../../tmp/evil') });
    expect(ensureWorkdir(r, '/w/sub')).toBe('/tmp/evil/sub');
    expect(r.nodes.get('/tmp/evil/sub')?.type).toBe('dir');
  });
  it('refuses a workdir under a regular file', () => {
    const r = new FakeRoot({ '/f': 'x' });
    expect(code(() => ensureWorkdir(r, '/f/sub'))).toBe('invalid-argument');
    expect(code(() => ensureWorkdir(r, '/f'))).toBe('invalid-argument');
  });
  it('leaves existing directories alone', () => {
    const r = new FakeRoot({ '/a/b': dir });
    expect(ensureWorkdir(r, '/a/b')).toBe('/a/b');
    expect(r.calls.some((c) => c.startsWith('mkdir'))).toBe(false);
  });
});

describe('readContainerFile', () => {
  it('reads through in-root symlinks and refuses non-regular files', () => {
    const r = new FakeRoot({ '/etc/passwd': link('../usr/lib/passwd'), '/usr/lib/passwd': 'a:x:1:1::/:/bin/sh\n', '/etc/group': { type: 'other' } });
    expect(readContainerFile(r, '/etc/passwd')).toContain('a:x:1:1');
    expect(code(() => readContainerFile(r, '/etc/group'))).toBe('hostile-content');
    expect(readContainerFile(r, '/etc/shadow')).toBeNull();
  });
  it('enforces the size cap', () => {
    const r = new FakeRoot({ '/etc/passwd': 'x'.repeat(100) });
    expect(code(() => readContainerFile(r, '/etc/passwd', 10))).toBe('hostile-content');
  });
});

describe('user specs', () => {
  it('parses names and ids', () => {
    expect(parseUserSpec('0')).toEqual({ user: { kind: 'id', id: 0 } });
    expect(parseUserSpec('nobody:nogroup')).toEqual({ user: { kind: 'name', name: 'nobody' }, group: { kind: 'name', name: 'nogroup' } });
    expect(parseUserSpec(`${MAX_ID}:5`)).toEqual({ user: { kind: 'id', id: MAX_ID }, group: { kind: 'id', id: 5 } });
    expect(parseIdOrName('_apt', 'user')).toEqual({ kind: 'name', name: '_apt' });
    expect(parseIdOrName('machine$', 'user')).toEqual({ kind: 'name', name: 'machine$' });
  });
  const bad = ['-1', '1.5', '0x10', '1e3', '+1', `${MAX_ID + 1}`, '99999999999999999999', '', ':', 'a:', ':a', 'a:b:c', ' 1', 'a b', '1a', 'ü'];
  for (const s of bad) {
    it(`refuses ${JSON.stringify(s)} (never falls back to root)`, () => {
      expect(code(() => parseUserSpec(s))).toBe('invalid-argument');
    });
  }
});

describe('passwd and group parsing', () => {
  it('skips malformed lines', () => {
    const p = parsePasswd('root:x:0:0:root:/root:/bin/sh\n# c\nbad:x:-1:0::/:\nbig:x:99999999999:0::/:\n+nis\nshort:x:5:6\nwin:x:7:8::/home/w:/bin/sh\r\n');
    expect(p.map((e) => e.name)).toEqual(['root', 'short', 'win']);
    expect(p[2]).toEqual({ name: 'win', uid: 7, gid: 8, home: '/home/w', shell: '/bin/sh' });
    const g = parseGroup('wheel:x:10:root,alice\nempty:x:11:\nbad:x:x:\n');
    expect(g).toEqual([
      { name: 'wheel', gid: 10, members: ['root', 'alice'] },
      { name: 'empty', gid: 11, members: [] },
    ]);
  });
});

describe('resolveUser', () => {
  const root = new FakeRoot({
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n',
    '/etc/group': 'root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\nstaff:x:50:\n',
  });
  it('defaults to root', () => {
    expect(resolveUser(root, {})).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
  });
  // A user named with -u (or the image's User) also gets its primary group as a supplementary one,
  // as podman does (`id` then prints groups=1000(tester)).
  it('resolves names with their memberships from the container, never the host', () => {
    expect(resolveUser(root, { user: 'alice' })).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], home: '/home/alice', name: 'alice' });
  });
  it('resolves a numeric uid through passwd when it has an entry', () => {
    expect(resolveUser(root, { user: '1001' })).toMatchObject({ uid: 1001, gid: 1001, additionalGids: [1001, 10], home: '/home/bob' });
  });
  it('gives an unknown numeric uid gid 0 and HOME=/ (like runc)', () => {
    expect(resolveUser(root, { user: '4242' })).toEqual({ uid: 4242, gid: 0, additionalGids: [0], home: '/' });
  });
  it('an explicit group replaces the memberships', () => {
    expect(resolveUser(root, { user: 'alice:staff' })).toMatchObject({ uid: 1000, gid: 50, additionalGids: [50] });
    expect(resolveUser(root, { user: '1000:7' })).toMatchObject({ uid: 1000, gid: 7, additionalGids: [7] });
  });
  it('adds --group-add names from the container and numbers', () => {
    expect(resolveUser(root, { user: 'bob', groupAdd: ['staff', '777', 'wheel'] }).additionalGids).toEqual([1001, 10, 50, 777]);
  });
  it('refuses unknown names with podman wording', () => {
    expect(() => resolveUser(root, { user: 'mallory' })).toThrow('unable to find user mallory: no matching entries in passwd file');
    expect(() => resolveUser(root, { user: 'alice:nope' })).toThrow('unable to find group nope: no matching entries in group file');
    expect(code(() => resolveUser(root, { user: 'alice', groupAdd: ['nope'] }))).toBe('invalid-argument');
    expect(code(() => resolveUser(root, { user: 'alice', groupAdd: ['-5'] }))).toBe('invalid-argument');
  });
  it('works without passwd/group files for numeric ids', () => {
    expect(resolveUser(new FakeRoot({}), { user: '5:6' })).toEqual({ uid: 5, gid: 6, additionalGids: [6], home: '/' });
    expect(code(() => resolveUser(new FakeRoot({}), { user: 'www' }))).toBe('invalid-argument');
  });
  it('refuses a FIFO or directory at /etc/passwd instead of hanging', () => {
    expect(code(() => resolveUser(new FakeRoot({ '/etc/passwd': { type: 'other' } }), { user: 'x' }))).toBe('hostile-content');
    expect(code(() => resolveUser(new FakeRoot({ '/etc/passwd': dir }), { user: 'x' }))).toBe('hostile-content');
  });
  it('reads /etc/passwd through an in-root symlink only', () => {
    const r = new FakeRoot({ '/etc/passwd': link('/../../../../etc/real'), '/etc/real': 'svc:x:5:5::/srv:/bin/sh\n' });
    expect(resolveUser(r, { user: 'svc' })).toMatchObject({ uid: 5, home: '/srv' });
  });
});
