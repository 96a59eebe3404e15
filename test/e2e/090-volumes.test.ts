// volume create, ls, inspect, exists, rm, prune — and a volume in use by a container.
//
// Requirements: rootless test user. The "in use" tests also need `create` and the fixture registry
// on 127.0.0.1:5000 (docker.io mirror); they skip with the reason when `create` is missing.
// Validated against podman 4.3: TSPOD_BIN=podman npx vitest run test/e2e/090-volumes.test.ts

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IS_PODMAN, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('090-volumes');
const HEX64 = /^[0-9a-f]{64}$/;
const RFC3339NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const mountpoint = (name: string): string => `${store.root}/volumes/${name}/_data`;

/** A silent success apart from stdout, which is returned. */
async function out(args: string[], input?: string): Promise<string> {
  const r = await ok(args, { store, input });
  expect(r.stderr).toBe('');
  return r.stdout;
}

async function lsNames(...filters: string[]): Promise<string[]> {
  const stdout = await out(['volume', 'ls', '-q', ...filters.flatMap((f) => ['--filter', f])]);
  return stdout.split('\n').filter(Boolean);
}

/** Removes every volume (and, with -f, any container using one). */
async function reset(): Promise<void> {
  await ok(['volume', 'rm', '--all', '--force'], { store });
  expect(await lsNames()).toEqual([]);
}

beforeAll(async () => {
  await cleanStore(store);
});

afterAll(async () => {
  await cleanStore(store);
});

describe('volume create', () => {
  beforeEach(reset);

  it('prints the name; inspect shows podman\'s fields', async () => {
    expect(await out(['volume', 'create', 'vc-named'])).toBe('vc-named\n');
    const [v] = JSON.parse(await out(['volume', 'inspect', 'vc-named']));
    expect(v).toEqual({
      Name: 'vc-named',
      Driver: 'local',
      Mountpoint: mountpoint('vc-named'),
      CreatedAt: v.CreatedAt,
      Labels: {},
      Scope: 'local',
      Options: {},
      MountCount: 0,
      NeedsCopyUp: true,
      NeedsChown: true,
    });
    expect(v.CreatedAt).toMatch(RFC3339NANO);
    expect(Math.abs(Date.now() - Date.parse(v.CreatedAt))).toBeLessThan(120_000);
  });

  it('without a name: a random 64-hex name', async () => {
    const name = (await out(['volume', 'create'])).trim();
    expect(name).toMatch(HEX64);
    expect(await lsNames()).toEqual([name]);
  });

  it('labels (comma-separated too) and options', async () => {
    await out(['volume', 'create', 'vc-labels', '--label', 'a=b', '-l', 'c', '-l', 'k=v=w', '-l', 'x=1,y=2', '-o', 'type=tmpfs', '--opt', 'device=tmpfs']);
    const r = await out(['volume', 'inspect', '--format', '{{json .Labels}} {{json .Options}}', 'vc-labels']);
    expect(JSON.parse(`[${r.trim().replace('} {', '},{')}]`)).toEqual([
      { a: 'b', c: '', k: 'v=w', x: '1', y: '2' },
      { type: 'tmpfs', device: 'tmpfs' },
    ]);
  });

  it('flags before the name', async () => {
    expect(await out(['volume', 'create', '--label', 'a=b', 'vc-after'])).toBe('vc-after\n');
    expect(await out(['volume', 'inspect', '--format', '{{.Labels}}', 'vc-after'])).toBe('map[a:b]\n');
  });

  it('a taken name: exit 125, already exists', async () => {
    await out(['volume', 'create', 'vc-dup']);
    const r = await fails(['volume', 'create', 'vc-dup'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: volume with name vc-dup already exists: volume already exists\n');
  });

  it.skipIf(IS_PODMAN)('--ignore: a taken name prints the name and succeeds (podman >= 4.4; 4.3 lacks the flag)', async () => {
    await out(['volume', 'create', '-l', 'first=1', 'vc-ign']);
    expect(await out(['volume', 'create', '--ignore', '-l', 'second=2', 'vc-ign'])).toBe('vc-ign\n');
    expect(await out(['volume', 'inspect', '--format', '{{.Labels}}', 'vc-ign'])).toBe('map[first:1]\n');
  });

  it.each(['bad/name', '.dot', 'a b', '..'])('refuses the name %j: exit 125', async (name) => {
    const r = await fails(['volume', 'create', name], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument\n');
    expect(await lsNames()).toEqual([]);
  });

  it('an unknown local option: exit 125', async () => {
    const r = await fails(['volume', 'create', '-o', 'foo=bar', 'vc-opt'], 125, { store });
    expect(r.stderr).toBe("Error: invalid mount option foo for driver 'local': invalid argument\n");
  });

  it('a label without a key: exit 125', async () => {
    const r = await fails(['volume', 'create', '-l', '=x', 'vc-lbl'], 125, { store });
    expect(r.stderr).toBe('Error: unable to process labels: invalid label format: "=x"\n');
  });

  it('a driver other than local: exit 125', async () => {
    const r = await fails(['volume', 'create', '--driver', 'foo', 'vc-drv'], 125, { store });
    expect(r.stderr).toBe('Error: volume vc-drv uses volume plugin foo but it could not be retrieved: no volume plugin with name foo available: required plugin missing\n');
    expect(await out(['volume', 'create', '--driver', 'local', 'vc-drv'])).toBe('vc-drv\n');
  });

  it('two names: exit 125', async () => {
    const r = await fails(['volume', 'create', 'a1', 'a2'], 125, { store });
    expect(r.stderr).toMatch(/^Error: accepts at most 1 arg\(s\), received 2\n/);
  });
});

describe('volume ls', () => {
  beforeAll(async () => {
    await reset();
    await out(['volume', 'create', 'v2', '--label', 'x=1']);
    await out(['volume', 'create', 'v1', '-l', 'a=b', '-l', 'c']);
    await out(['volume', 'create', 'v4', '-l', 'k=v']);
    await out(['volume', 'create', 'a.b_c-d']);
  });

  it('the default table, sorted by name', async () => {
    expect(await out(['volume', 'ls'])).toBe(
      'DRIVER      VOLUME NAME\nlocal       a.b_c-d\nlocal       v1\nlocal       v2\nlocal       v4\n',
    );
    expect(await out(['volume', 'list', '--noheading'])).toBe('local       a.b_c-d\nlocal       v1\nlocal       v2\nlocal       v4\n');
    expect(await lsNames()).toEqual(['a.b_c-d', 'v1', 'v2', 'v4']);
  });

  it('--format: a template per line, a table, json', async () => {
    expect(await out(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Mountpoint}}', '--filter', 'name=v1'])).toBe(
      `v1 local local map[a:b c:] ${mountpoint('v1')}\n`,
    );
    expect(await out(['volume', 'ls', '--format', '{{.CreatedAt}}', '-f', 'name=v1'])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\n$/);
    expect(await out(['volume', 'ls', '--format', 'table {{.Name}} {{.Scope}}', '-f', 'name=^v[12]$'])).toBe(
      'VOLUME NAME  SCOPE\nv1           local\nv2           local\n',
    );
    for (const format of ['json', '{{json .}}']) {
      const list = JSON.parse(await out(['volume', 'ls', '--format', format, '-f', 'name=v2']));
      expect(list).toEqual([
        {
          Name: 'v2',
          Driver: 'local',
          Mountpoint: mountpoint('v2'),
          CreatedAt: list[0].CreatedAt,
          Labels: { x: '1' },
          Scope: 'local',
          Options: {},
          MountCount: 0,
          NeedsCopyUp: true,
          NeedsChown: true,
        },
      ]);
    }
  });

  it.each([
    [['name=v'], ['v1', 'v2', 'v4']],
    [['name=v1'], ['v1']],
    [['name=a.b'], ['a.b_c-d']],
    [['name=V1'], []],
    [['name=v1', 'name=v2'], ['v1', 'v2']],
    [['label=x'], ['v2']],
    [['label=x=1'], ['v2']],
    [['label=x=2'], []],
    [['label=c'], ['v1']],
    [['label=k*'], ['v4']],
    [['label=x', 'label=k'], ['v2', 'v4']],
    [['driver=local'], ['a.b_c-d', 'v1', 'v2', 'v4']],
    [['driver=foo'], []],
    [['dangling=true'], ['a.b_c-d', 'v1', 'v2', 'v4']],
    [['dangling=false'], []],
    [['until=2099-01-01T00:00:00Z'], ['a.b_c-d', 'v1', 'v2', 'v4']],
    [['until=1700000000'], []],
  ])('--filter %j', async (filters, want) => {
    expect(await lsNames(...filters)).toEqual(want);
  });

  it.skipIf(IS_PODMAN)('different filter keys are ANDed (podman 4.3 ORs them; Docker and libpod AND)', async () => {
    expect(await lsNames('label=x', 'name=v1')).toEqual([]);
    expect(await lsNames('name=v', 'label=k')).toEqual(['v4']);
  });

  it('a filter matching nothing prints nothing, not even the heading', async () => {
    expect(await out(['volume', 'ls', '-f', 'name=zzz'])).toBe('');
    expect(await out(['volume', 'ls', '--format', 'json', '-f', 'name=zzz'])).toBe('[]\n');
  });

  it.each([
    ['bogus=1', 'Error: "bogus" is an invalid volume filter\n'],
    ['noequals', 'Error: filter input must be in the form of filter=value: noequals is invalid\n'],
    ['dangling=maybe', 'Error: "maybe" is not a valid value for the "dangling" filter - must be true or false\n'],
    ['until=abc', 'Error: failed to parse value as time or duration: "abc"\n'],
  ])('a bad filter %j: exit 125', async (filter, stderr) => {
    const r = await fails(['volume', 'ls', '--filter', filter], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(stderr);
  });

  it('-q with --format: exit 125', async () => {
    const r = await fails(['volume', 'ls', '-q', '--format', '{{.Driver}}'], 125, { store });
    expect(r.stderr).toBe('Error: quiet and format flags cannot be used together\n');
  });
});

describe('volume inspect and exists', () => {
  beforeAll(async () => {
    await reset();
    await out(['volume', 'create', 'i1', '-l', 'a=b', '-o', 'type=tmpfs']);
    await out(['volume', 'create', 'i2']);
  });

  it('several names, --all, --format', async () => {
    const both = JSON.parse(await out(['volume', 'inspect', 'i2', 'i1']));
    expect(both.map((v: { Name: string }) => v.Name)).toEqual(['i2', 'i1']);
    expect(both[1].Labels).toEqual({ a: 'b' });
    expect(both[1].Options).toEqual({ type: 'tmpfs' });
    expect(await out(['volume', 'inspect', '--all', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'])).toBe('i1 local local\ni2 local local\n');
    expect(await out(['volume', 'inspect', '-f', '{{.Anonymous}} {{.MountCount}} {{.NeedsCopyUp}}', 'i1'])).toBe('false 0 true\n');
    const raw = await out(['volume', 'inspect', 'i1']);
    expect(raw).toMatch(/^\[\n {5}\{\n {10}"Name": "i1",\n/); // podman's 5-space inspect layout
    expect(JSON.parse(await out(['volume', 'inspect', '--format', '{{json .}}', 'i1']))).toEqual(JSON.parse(raw));
  });

  it('a missing volume: the others are printed, then the error, exit 125', async () => {
    const r = await fails(['volume', 'inspect', '--format', '{{.Name}}', 'i1', 'nope', 'i2'], 125, { store });
    expect(r.stdout).toBe('i1\ni2\n');
    expect(r.stderr).toBe('Error: inspecting object: no such volume nope\n');
    const two = await fails(['volume', 'inspect', 'nope1', 'i1', 'nope2'], 125, { store });
    expect(JSON.parse(two.stdout).map((v: { Name: string }) => v.Name)).toEqual(['i1']);
    expect(two.stderr).toBe('error inspecting object: no such volume nope2\nError: inspecting object: no such volume nope1\n');
  });

  it('names and --all, or neither: exit 125', async () => {
    for (const args of [['volume', 'inspect'], ['volume', 'inspect', '-a', 'i1']]) {
      const r = await fails(args, 125, { store });
      expect(r.stderr).toBe('Error: provide one or more volume names or use --all\n');
    }
  });

  it('exists: 0 or 1, no output', async () => {
    for (const [name, code] of [['i1', 0], ['nope', 1], ['..', 1]] as const) {
      const r = await tspod(['volume', 'exists', name], { store });
      expect(r.code, name).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('');
    }
  });
});

describe('volume rm', () => {
  beforeEach(reset);

  it('prints each removed name; the name can be used again', async () => {
    await out(['volume', 'create', 'r1']);
    await out(['volume', 'create', 'r2']);
    expect(await out(['volume', 'rm', 'r2', 'r1'])).toBe('r2\nr1\n');
    expect(await lsNames()).toEqual([]);
    expect(await out(['volume', 'create', 'r1'])).toBe('r1\n');
  });

  it('a missing volume: exit 1, the others are still removed', async () => {
    await out(['volume', 'create', 'r1']);
    const r = await fails(['volume', 'rm', 'nope', 'r1', 'nope2'], 1, { store });
    expect(r.stdout).toBe('r1\n');
    expect(r.stderr).toBe('Error: no volume with name "nope" found: no such volume\nError: no volume with name "nope2" found: no such volume\n');
    expect(await lsNames()).toEqual([]);
  });

  it('--force: a missing volume is not an error', async () => {
    expect(await out(['volume', 'rm', '-f', 'nope'])).toBe('');
  });

  it('--all removes every volume', async () => {
    await out(['volume', 'create', 'r1']);
    await out(['volume', 'create', 'r2']);
    expect(await out(['volume', 'remove', '-a'])).toBe('r1\nr2\n');
    expect(await out(['volume', 'rm', '--all'])).toBe('');
  });

  it('names and --all, or neither: exit 125', async () => {
    for (const args of [['volume', 'rm'], ['volume', 'rm', '-a', 'r1']]) {
      const r = await fails(args, 125, { store });
      expect(r.stderr).toBe('Error: choose either one or more volumes or all\n');
    }
  });
});

describe('volume prune', () => {
  beforeEach(reset);

  it('-f removes every unused volume and prints the names', async () => {
    await out(['volume', 'create', 'p1']);
    await out(['volume', 'create', 'p2']);
    expect(await out(['volume', 'prune', '-f'])).toBe('p1\np2\n');
    expect(await lsNames()).toEqual([]);
    expect(await out(['volume', 'prune', '--force'])).toBe('');
  });

  it('--filter label= and name= narrow it', async () => {
    await out(['volume', 'create', 'p1']);
    await out(['volume', 'create', '-l', 'keep=1', 'p2']);
    await out(['volume', 'create', 'p3']);
    expect(await out(['volume', 'prune', '-f', '--filter', 'label=keep'])).toBe('p2\n');
    expect(await out(['volume', 'prune', '-f', '--filter', 'name=p3'])).toBe('p3\n');
    expect(await lsNames()).toEqual(['p1']);
  });

  it('a bad filter: exit 125, nothing removed', async () => {
    await out(['volume', 'create', 'p1']);
    const r = await fails(['volume', 'prune', '-f', '--filter', 'bogus=1'], 125, { store });
    expect(r.stderr).toBe('Error: "bogus" is an invalid volume filter\n');
    expect(await lsNames()).toEqual(['p1']);
  });

  it('without -f: lists the volumes and asks; anything but y keeps them', async () => {
    await out(['volume', 'create', 'p1']);
    const prompt =
      'WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\np1\nAre you sure you want to continue? [y/N] ';
    expect(await out(['volume', 'prune'], 'n\n')).toBe(prompt);
    expect(await lsNames()).toEqual(['p1']);
    expect(await out(['volume', 'prune'], 'y\n')).toBe(`${prompt}p1\n`);
    expect(await lsNames()).toEqual([]);
  });

  it('without -f and nothing to remove: says so and does not ask', async () => {
    expect(await out(['volume', 'prune'], '')).toBe(
      'WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\nNo dangling volumes found\n',
    );
  });
});

// Needs `create -v NAME:/path`: skipped until tspod has the command.
const HAS_CREATE = await tspod(['create', '--help'], { store }).then((r) => r.code === 0);

describe.skipIf(!HAS_CREATE)('a volume used by a container (requires `create` and the registry on 127.0.0.1:5000)', () => {
  let ctr = '';
  let ctr2 = '';

  beforeAll(async () => {
    await reset();
    await ok(['pull', '-q', 'alpine:3.15'], { store });
    const create = async (name: string, ...vols: string[]): Promise<string> => {
      const r = await ok(['create', '--name', name, ...vols.flatMap((v) => ['-v', v]), 'alpine:3.15', 'true'], { store });
      const id = r.stdout.trim().split('\n').pop()!;
      expect(id).toMatch(HEX64);
      return id;
    };
    await out(['volume', 'create', 'free']);
    ctr = await create('vol-user-1', 'used:/data', 'byrun:/run-created');
    ctr2 = await create('vol-user-2', 'used:/data');
  });

  it('create -v NAME:/path creates the volume', async () => {
    expect(await lsNames()).toEqual(['byrun', 'free', 'used']);
  });

  it('dangling= tells used from unused volumes', async () => {
    expect(await lsNames('dangling=true')).toEqual(['free']);
    expect(await lsNames('dangling=false')).toEqual(['byrun', 'used']);
  });

  it('rm of a volume in use: exit 2, the containers are named', async () => {
    const r = await fails(['volume', 'rm', 'used', 'free'], 2, { store });
    expect(r.stdout).toBe('free\n');
    expect(r.stderr).toBe(
      `Error: volume used is being used by the following container(s): ${[ctr, ctr2].sort().join(', ')}: volume is being used\n`,
    );
    expect(await lsNames()).toEqual(['byrun', 'used']);
  });

  it('prune keeps volumes in use', async () => {
    expect(await out(['volume', 'prune', '-f'])).toBe('');
    expect(await lsNames()).toEqual(['byrun', 'used']);
  });

  it('rm -f removes the containers, then the volume', async () => {
    expect(await out(['volume', 'rm', '-f', 'used'])).toBe('used\n');
    expect(await lsNames()).toEqual(['byrun']);
    const ps = await out(['ps', '-a', '--format', '{{.Names}}']);
    expect(ps).toBe('');
    expect(await lsNames('dangling=true')).toEqual(['byrun']);
  });
});
