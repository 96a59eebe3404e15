// Engine volume verbs over a real Store in a temporary directory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/storage/store.js';
import { VolumeStore } from '../../src/storage/volumes.js';
import { renderTemplate, inspectJson } from '../../src/cli/output.js';
import { TspodError } from '../../src/errors.js';
import * as volumes from '../../src/engine/volumes.js';

let dir: string;
let store: Store;
const none: volumes.VolumeUsers = () => [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tspod-volumes-'));
  store = Store.open({ graphRoot: join(dir, 'root'), runRoot: join(dir, 'run') });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown> | (() => unknown), code: string, message?: string | RegExp): Promise<TspodError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TspodError);
  const te = err as TspodError;
  expect(te.code).toBe(code);
  if (typeof message === 'string') expect(te.message).toBe(message);
  else if (message) expect(te.message).toMatch(message);
  return te;
}

const mode = (p: string): number => statSync(p).mode & 0o777;
const names = (vs: volumes.VolumeRecord[]): string[] => vs.map((v) => v.name);

describe('createVolume', () => {
  it('creates the directory (0700) with _data (0755), then the record', async () => {
    const v = await volumes.createVolume(store, { name: 'data1', labels: { a: 'b' }, options: { type: 'tmpfs', device: 'tmpfs' } });
    expect(v).toMatchObject({ name: 'data1', driver: 'local', labels: { a: 'b' }, options: { type: 'tmpfs', device: 'tmpfs' }, anonymous: false });
    expect(Date.now() - Date.parse(v.created)).toBeLessThan(10_000);
    const root = join(store.graphRoot, 'volumes');
    expect(mode(root)).toBe(0o700);
    expect(mode(join(root, 'data1'))).toBe(0o700);
    expect(mode(join(root, 'data1', '_data'))).toBe(0o755);
    const index = JSON.parse(readFileSync(join(store.graphRoot, 'volumes.json'), 'utf8'));
    expect(index).toEqual({ version: 1, items: [v] });
  });

  it('a taken name is an error unless ignoreIfExists, which returns the existing volume', async () => {
    const v = await volumes.createVolume(store, { name: 'dup', labels: { x: '1' } });
    await rejects(volumes.createVolume(store, { name: 'dup' }), 'exists', 'volume with name dup already exists: volume already exists');
    const again = await volumes.createVolume(store, { name: 'dup', labels: { y: '2' }, ignoreIfExists: true });
    expect(again).toEqual(v);
  });

  it('without a name: a random 64-hex name, not anonymous (as podman volume create)', async () => {
    const a = await volumes.createVolume(store);
    const b = await volumes.createVolume(store);
    expect(a.name).toMatch(/^[0-9a-f]{64}$/);
    expect(a.name).not.toBe(b.name);
    expect(a.anonymous).toBe(false);
  });

  it.each(['../x', 'a/b', '.hidden', '-x', '', 'a b', '..', '/abs', 'x\n'])('refuses the name %j', async (name) => {
    await rejects(volumes.createVolume(store, { name }), 'invalid-argument', 'running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument');
    expect(existsSync(join(store.graphRoot, 'x'))).toBe(false);
    expect(volumes.listVolumes(store)).toEqual([]);
  });

  it('accepts podman names such as a.b_c-d', async () => {
    expect((await volumes.createVolume(store, { name: 'a.b_c-d' })).name).toBe('a.b_c-d');
  });

  it('only the local driver', async () => {
    expect((await volumes.createVolume(store, { name: 'l', driver: 'local' })).driver).toBe('local');
    await rejects(
      volumes.createVolume(store, { name: 'z', driver: 'foo' }),
      'unsupported',
      'volume z uses volume plugin foo but it could not be retrieved: no volume plugin with name foo available: required plugin missing',
    );
  });

  it('checks local driver options; o=uid=,gid= also records UID and GID', async () => {
    await rejects(volumes.createVolume(store, { name: 'o1', options: { foo: 'bar' } }), 'invalid-argument', "invalid mount option foo for driver 'local': invalid argument");
    const v = await volumes.createVolume(store, { name: 'o3', options: volumes.parseVolumeOptions(['o=uid=1000,gid=1000', 'nocopy']) });
    expect(v.options).toEqual({ o: 'uid=1000,gid=1000', UID: '1000', GID: '1000', nocopy: '' });
  });
});

describe('parseLabels / parseVolumeOptions', () => {
  it('KEY=VALUE, KEY alone is an empty value, the first = splits', () => {
    expect(volumes.parseLabels(['a=b', 'c', 'k=v=w', ''])).toEqual({ a: 'b', c: '', k: 'v=w' });
    expect(volumes.parseVolumeOptions(['type=tmpfs', 'copy'])).toEqual({ type: 'tmpfs', copy: '' });
  });
  it('an empty key is refused', async () => {
    await rejects(() => volumes.parseLabels(['=x']), 'invalid-argument', 'unable to process labels: invalid label format: "=x"');
  });
});

describe('ensureVolume', () => {
  it('creates a named volume once and returns its mountpoint', async () => {
    const a = await volumes.ensureVolume(store, 'shared');
    const b = await volumes.ensureVolume(store, 'shared');
    expect(a).toEqual({ name: 'shared', mountpoint: join(store.graphRoot, 'volumes', 'shared', '_data') });
    expect(b).toEqual(a);
    expect(statSync(a.mountpoint).isDirectory()).toBe(true);
    expect(names(volumes.listVolumes(store))).toEqual(['shared']);
  });

  it('without a name: a new anonymous volume each time', async () => {
    const a = await volumes.ensureVolume(store);
    const b = await volumes.ensureVolume(store);
    expect(a.name).toMatch(/^[0-9a-f]{64}$/);
    expect(a.name).not.toBe(b.name);
    expect(volumes.lookupVolume(store, a.name).anonymous).toBe(true);
  });

  it('validates the name', async () => {
    await rejects(volumes.ensureVolume(store, '../../etc'), 'invalid-argument');
  });
});

describe('inspectVolume', () => {
  it("podman's shape and key order; CreatedAt is a Go time", async () => {
    const v = await volumes.createVolume(store, { name: 'insp', labels: { a: 'b', c: '' }, options: { type: 'tmpfs' } });
    const i = volumes.inspectVolume(store, 'insp');
    expect(Object.keys(i)).toEqual(['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Scope', 'Options', 'MountCount', 'NeedsCopyUp', 'NeedsChown']);
    const json = JSON.parse(inspectJson([i]));
    expect(json).toEqual([
      {
        Name: 'insp',
        Driver: 'local',
        Mountpoint: join(store.graphRoot, 'volumes', 'insp', '_data'),
        CreatedAt: json[0].CreatedAt,
        Labels: { a: 'b', c: '' },
        Scope: 'local',
        Options: { type: 'tmpfs' },
        MountCount: 0,
        NeedsCopyUp: true,
        NeedsChown: true,
      },
    ]);
    expect(json[0].CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(json[0].CreatedAt)).toBe(Date.parse(v.created));
    expect(renderTemplate('{{.Name}} {{.Scope}} {{.Labels}} {{.Anonymous}} {{.MountCount}}', i)).toBe('insp local map[a:b c:] false 0\n');
    expect(renderTemplate('{{.CreatedAt}}', i)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\n$/);
  });

  it('an anonymous volume has "Anonymous": true after Options', async () => {
    const { name } = await volumes.ensureVolume(store);
    const i = volumes.inspectVolume(store, name);
    expect(Object.keys(JSON.parse(JSON.stringify(i)))).toEqual(['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Scope', 'Options', 'Anonymous', 'MountCount', 'NeedsCopyUp', 'NeedsChown']);
    expect(renderTemplate('{{.Anonymous}}', i)).toBe('true\n');
  });

  it('missing: no such volume X', async () => {
    await rejects(() => volumes.inspectVolume(store, 'nope'), 'no-such-volume', 'no such volume nope');
    await rejects(() => volumes.inspectVolume(store, '../volumes.json'), 'no-such-volume');
  });
});

describe('listVolumes filters', () => {
  const users: volumes.VolumeUsers = (n) => (n === 'v2' ? ['c0ffee'] : []);
  beforeEach(async () => {
    await volumes.createVolume(store, { name: 'v2', labels: { x: '1' } });
    await volumes.createVolume(store, { name: 'v1', labels: { a: 'b', c: '' } });
    await volumes.createVolume(store, { name: 'v4', labels: { k: 'v=w' } });
    await volumes.createVolume(store, { name: 'a.b_c-d' });
  });

  it('no filter: all, by name', () => {
    expect(names(volumes.listVolumes(store))).toEqual(['a.b_c-d', 'v1', 'v2', 'v4']);
  });

  it.each([
    [['name=v'], ['v1', 'v2', 'v4']],
    [['name=v1'], ['v1']],
    [['name=^v'], ['v1', 'v2', 'v4']],
    [['name=v[12]$'], ['v1', 'v2']],
    [['name=V1'], []],
    [['name=a.b'], ['a.b_c-d']],
    [['name=v1', 'name=v2'], ['v1', 'v2']],
    [['label=x'], ['v2']],
    [['label=x=1'], ['v2']],
    [['label=x=2'], []],
    [['label=c'], ['v1']],
    [['label=c='], ['v1']],
    [['label=k='], ['v4']],
    [['label=k*'], ['v4']],
    [['label=k=v=w'], ['v4']],
    [['label=x', 'label=k'], ['v2', 'v4']],
    [['driver=local'], ['a.b_c-d', 'v1', 'v2', 'v4']],
    [['driver=loc'], []],
    [['dangling=true'], ['a.b_c-d', 'v1', 'v4']],
    [['dangling=1'], ['a.b_c-d', 'v1', 'v4']],
    [['dangling=false'], ['v2']],
    [['dangling=0'], ['v2']],
    // different keys AND (Docker and libpod's rule; podman 4.3's CLI ORs them)
    [['label=x', 'name=v1'], []],
    [['name=v', 'dangling=true'], ['v1', 'v4']],
    [['until=2099-01-01T00:00:00Z'], ['a.b_c-d', 'v1', 'v2', 'v4']],
    [['until=1700000000'], []],
    [['until=1h'], []],
    [['until=0s'], ['a.b_c-d', 'v1', 'v2', 'v4']],
  ])('%j → %j', (filters, want) => {
    expect(names(volumes.listVolumes(store, filters, users))).toEqual(want);
  });

  it('bad filters are errors with podman wording', async () => {
    await rejects(() => volumes.listVolumes(store, ['bogus=1']), 'invalid-argument', '"bogus" is an invalid volume filter');
    await rejects(() => volumes.listVolumes(store, ['noequals']), 'invalid-argument', 'filter input must be in the form of filter=value: noequals is invalid');
    await rejects(() => volumes.listVolumes(store, ['dangling=maybe']), 'invalid-argument', '"maybe" is not a valid value for the "dangling" filter - must be true or false');
    await rejects(() => volumes.listVolumes(store, ['until=abc']), 'invalid-argument', 'failed to parse value as time or duration: "abc"');
    await rejects(() => volumes.listVolumes(store, ['name=[']), 'invalid-argument', /^error parsing regexp: /);
  });
});

describe('parseUntil', () => {
  it('durations, unix seconds, dates', () => {
    const now = Date.parse('2026-01-02T03:04:05Z');
    expect(volumes.parseUntil('1h30m', now)).toBe(now - 5_400_000);
    expect(volumes.parseUntil('1.5s', now)).toBe(now - 1500);
    expect(volumes.parseUntil('1700000000', now)).toBe(1_700_000_000_000);
    expect(volumes.parseUntil('2025-12-31T00:00:00Z', now)).toBe(Date.parse('2025-12-31T00:00:00Z'));
  });
});

describe('removeVolume', () => {
  it('removes the record and the directory, leaving nothing in tmp', async () => {
    const { mountpoint } = await volumes.ensureVolume(store, 'gone');
    writeFileSync(join(mountpoint, 'file'), 'data');
    expect(await volumes.removeVolume(store, 'gone', {}, none)).toEqual({ removed: true, containers: [] });
    expect(volumes.volumeExists(store, 'gone')).toBe(false);
    expect(existsSync(join(store.graphRoot, 'volumes', 'gone'))).toBe(false);
    expect(readdirSync(join(store.graphRoot, 'tmp'))).toEqual([]);
  });

  it('missing: podman wording; with force it is not an error', async () => {
    await rejects(volumes.removeVolume(store, 'nope', {}, none), 'no-such-volume', 'no volume with name "nope" found: no such volume');
    expect(await volumes.removeVolume(store, 'nope', { force: true }, none)).toEqual({ removed: false, containers: [] });
  });

  it('in use: exit code 2 and the users, sorted; the volume stays', async () => {
    await volumes.createVolume(store, { name: 'busy' });
    const users: volumes.VolumeUsers = () => ['d6a1d998', '5940828a'];
    const e = await rejects(
      volumes.removeVolume(store, 'busy', {}, users),
      'invalid-argument',
      'volume busy is being used by the following container(s): 5940828a, d6a1d998: volume is being used',
    );
    expect(e.exitCode).toBe(2);
    expect(volumes.volumeExists(store, 'busy')).toBe(true);
  });

  it('force: removes the users first through the callback, then the volume', async () => {
    await volumes.createVolume(store, { name: 'busy' });
    let using = ['ctr1', 'ctr2'];
    const removed: string[] = [];
    const r = await volumes.removeVolume(
      store,
      'busy',
      {
        force: true,
        removeContainer: async (id) => {
          expect(volumes.volumeExists(store, 'busy')).toBe(true);
          removed.push(id);
          using = using.filter((u) => u !== id);
        },
      },
      () => using,
    );
    expect(removed).toEqual(['ctr1', 'ctr2']);
    expect(r).toEqual({ removed: true, containers: ['ctr1', 'ctr2'] });
    expect(volumes.volumeExists(store, 'busy')).toBe(false);
  });

  it('force without a callback: the volume goes and the caller gets the users', async () => {
    await volumes.createVolume(store, { name: 'busy' });
    expect(await volumes.removeVolume(store, 'busy', { force: true }, () => ['ctr1'])).toEqual({ removed: true, containers: ['ctr1'] });
  });
});

describe('pruneVolumes', () => {
  it('removes unused volumes matching the filters', async () => {
    for (const n of ['p1', 'p2', 'used']) await volumes.createVolume(store, { name: n, labels: n === 'p2' ? { keep: '1' } : {} });
    const users: volumes.VolumeUsers = (n) => (n === 'used' ? ['c1'] : []);
    expect(names(volumes.pruneCandidates(store, [], users))).toEqual(['p1', 'p2']);
    expect(await volumes.pruneVolumes(store, ['label=keep'], users)).toEqual(['p2']);
    expect(await volumes.pruneVolumes(store, [], users)).toEqual(['p1']);
    expect(await volumes.pruneVolumes(store, [], users)).toEqual([]);
    expect(names(volumes.listVolumes(store))).toEqual(['used']);
  });

  it('refuses bad filters before removing anything', async () => {
    await volumes.createVolume(store, { name: 'p1' });
    await rejects(volumes.pruneVolumes(store, ['bogus=1'], none), 'invalid-argument');
    expect(volumes.volumeExists(store, 'p1')).toBe(true);
  });
});

describe('removeAnonymousVolumes', () => {
  it('removes only anonymous, unused ones; ignores missing', async () => {
    const anon = await volumes.ensureVolume(store);
    const anonUsed = await volumes.ensureVolume(store);
    await volumes.ensureVolume(store, 'named');
    const users: volumes.VolumeUsers = (n) => (n === anonUsed.name ? ['other'] : []);
    expect(await volumes.removeAnonymousVolumes(store, [anon.name, anonUsed.name, 'named', 'missing'], users)).toEqual([anon.name]);
    expect(names(volumes.listVolumes(store)).sort()).toEqual([anonUsed.name, 'named'].sort());
  });
});

describe('crash consistency', () => {
  it('a directory without a record (crash after mkdir, or mid-rm) is wiped by a create of that name', async () => {
    const orphan = join(store.graphRoot, 'volumes', 'reused', '_data');
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'old-secret'), 'from a removed volume');
    expect(volumes.volumeExists(store, 'reused')).toBe(false);
    const { mountpoint } = await volumes.ensureVolume(store, 'reused');
    expect(mountpoint).toBe(orphan);
    expect(readdirSync(mountpoint)).toEqual([]);
    expect(mode(mountpoint)).toBe(0o755);
  });

  it('gc() removes directories without a record and keeps the others', async () => {
    await volumes.createVolume(store, { name: 'kept' });
    mkdirSync(join(store.graphRoot, 'volumes', 'orphan', '_data'), { recursive: true });
    writeFileSync(join(store.graphRoot, 'volumes', 'stray-file'), '');
    expect(await new VolumeStore(store).gc()).toBe(2);
    expect(readdirSync(join(store.graphRoot, 'volumes'))).toEqual(['kept']);
    expect(readdirSync(join(store.graphRoot, 'tmp'))).toEqual([]);
  });

  it('a record whose directory went missing still lists, inspects and removes', async () => {
    await volumes.createVolume(store, { name: 'nodir' });
    rmSync(join(store.graphRoot, 'volumes', 'nodir'), { recursive: true });
    expect(volumes.inspectVolume(store, 'nodir').Name).toBe('nodir');
    expect((await volumes.removeVolume(store, 'nodir', {}, none)).removed).toBe(true);
  });

  it('a trash directory left by a dead remover is collected by Store.gc()', async () => {
    await volumes.createVolume(store, { name: 'x' });
    const trash = join(store.graphRoot, 'tmp', 'volume-rm-dead');
    mkdirSync(join(trash, '_data'), { recursive: true });
    writeFileSync(join(trash, '.owner'), '999999999 1'); // a pid that cannot be alive
    await store.gc();
    expect(existsSync(trash)).toBe(false);
    expect(volumes.volumeExists(store, 'x')).toBe(true);
  });
});

describe('usersOf', () => {
  it('asks the engine when it can, and treats nothing as in use otherwise', () => {
    const engine = { volumeUsers(this: { ids: string[] }, n: string) { return n === 'v' ? this.ids : []; }, ids: ['c1'] };
    expect(volumes.usersOf(engine)('v')).toEqual(['c1']);
    expect(volumes.usersOf({})('v')).toEqual([]);
  });
});
