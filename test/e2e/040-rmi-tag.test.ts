// tag, untag, rmi / image rm (-f, -a), image exists, image prune, image history.
//
// Requirements: rootless test user, the fixture registry on 127.0.0.1:5000 (docker.io mirror).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanStore, fails, ok, storeFor, tspod } from './helpers.js';

const store = storeFor('040-rmi-tag');
const ALPINE = 'docker.io/library/alpine:3.15';
const BUSYBOX = 'docker.io/library/busybox:latest';
const PLAIN = 'docker.io/library/plain:latest';

async function pull(ref: string): Promise<string> {
  const r = await ok(['pull', '-q', ref], { store });
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

/** "name id12" for every name in the store, sorted. */
async function names(): Promise<string[]> {
  const r = await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'], { store });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** image exists: exit 0 (present) or 1 (missing), never any output. */
async function exists(ref: string): Promise<boolean> {
  const r = await tspod(['image', 'exists', ref], { store });
  expect([0, 1], `image exists ${ref}: ${r.stderr}`).toContain(r.code);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe('');
  return r.code === 0;
}

/** A silent success: exit 0 (asserted by ok), nothing on stdout or stderr. */
async function quiet(args: string[]): Promise<void> {
  const r = await ok(args, { store });
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe('');
}

let alpine = '';

beforeAll(async () => {
  await cleanStore(store);
  alpine = await pull('alpine:3.15');
});

afterAll(async () => {
  await cleanStore(store);
});

describe('tag and untag', () => {
  it('tag adds names; a name without registry gets localhost/', async () => {
    await quiet(['tag', 'alpine:3.15', 'localhost/mine:v1']);
    await quiet(['tag', alpine.slice(0, 12), 'mine:v2', 'localhost/mine:v3']);
    const a = alpine.slice(0, 12);
    expect(await names()).toEqual(
      [`${ALPINE} ${a}`, `localhost/mine:v1 ${a}`, `localhost/mine:v2 ${a}`, `localhost/mine:v3 ${a}`].sort(),
    );
    const tags = await ok(['image', 'inspect', '--format', '{{range .RepoTags}}{{.}} {{end}}', alpine], { store });
    expect(tags.stdout.trim().split(' ').sort()).toEqual(
      [ALPINE, 'localhost/mine:v1', 'localhost/mine:v2', 'localhost/mine:v3'].sort(),
    );
  });

  it('tag of a missing image: exit 125, image not known', async () => {
    const r = await fails(['tag', 'no-such-image', 'localhost/x:y'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: no-such-image: image not known\n');
  });

  it('tag with an invalid new name: exit 125', async () => {
    const r = await fails(['tag', 'alpine:3.15', 'Bad/Name'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*repository name must be lowercase/m);
  });

  it('untag IMAGE NAME removes only that name', async () => {
    await quiet(['untag', 'alpine:3.15', 'localhost/mine:v3']);
    expect(await names()).not.toContain(`localhost/mine:v3 ${alpine.slice(0, 12)}`);
    expect(await names()).toContain(`localhost/mine:v2 ${alpine.slice(0, 12)}`);
    expect(await exists('localhost/mine:v3')).toBe(false);
    expect(await exists('alpine:3.15')).toBe(true);
  });

  it('untag of a name the image does not have: exit 125, tag not known', async () => {
    const r = await fails(['untag', 'alpine:3.15', 'localhost/not-a-name:v1'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: localhost/not-a-name:v1: tag not known\n');
  });

  it('untag IMAGE with no names removes all its names: the image is dangling', async () => {
    const plain = await pull(PLAIN);
    await quiet(['tag', PLAIN, 'localhost/plain-copy:v1']);
    await quiet(['untag', PLAIN]);
    expect(await exists(plain)).toBe(true);
    expect(await exists(PLAIN)).toBe(false);
    expect(await exists('localhost/plain-copy:v1')).toBe(false);
    expect(await names()).toContain(`<none>:<none> ${plain.slice(0, 12)}`);
  });
});

describe('image exists', () => {
  it('exit 0 for a present image (by name or ID), 1 for a missing one, no output', async () => {
    expect(await exists('alpine:3.15')).toBe(true);
    expect(await exists(ALPINE)).toBe(true);
    expect(await exists(alpine)).toBe(true);
    expect(await exists(alpine.slice(0, 12))).toBe(true);
    expect(await exists('no-such-image')).toBe(false);
    expect(await exists('docker.io/library/alpine:0.0')).toBe(false);
  });
});

describe('image prune', () => {
  it('-f removes dangling images and prints their IDs', async () => {
    const dangling = (await ok(['images', '--filter', 'dangling=true', '-q', '--no-trunc'], { store })).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace('sha256:', ''));
    expect(dangling.length).toBe(1);
    const r = await ok(['image', 'prune', '-f'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${dangling[0]}\n`);
    expect(await exists(dangling[0])).toBe(false);
    expect(await exists('alpine:3.15')).toBe(true);
  });

  it('with nothing to prune: exit 0, no output', async () => {
    await quiet(['image', 'prune', '-f']);
  });
});

describe('image history', () => {
  it('prints podman\'s table: ID CREATED CREATED BY SIZE COMMENT, newest first', async () => {
    const r = await ok(['image', 'history', 'alpine:3.15'], { store });
    expect(r.stderr).toBe('');
    const [header, ...rows] = r.stdout.split('\n').filter(Boolean);
    expect(header.trimEnd()).toMatch(/^ID\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(rows.length).toBe(2);
    // the top entry carries the image ID, older ones <missing>
    expect(rows[0]).toMatch(new RegExp(`^${alpine.slice(0, 12)}\\s+.+ ago\\s+/bin/sh -c #\\(nop\\)\\s+CMD \\["/bin/sh"\\]\\s+0 ?B\\s*$`));
    expect(rows[1]).toMatch(/^<missing>\s+.+ ago\s+\/bin\/sh -c #\(nop\) ADD file:busybox-static.*\s+\d+(\.\d+)? ?[kM]B\s*$/);
  });

  it('--format json parses', async () => {
    const r = await ok(['image', 'history', '--format', 'json', 'alpine:3.15'], { store });
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(doc.map((h) => h.id)).toEqual([alpine, '<missing>']);
    expect(doc.map((h) => h.CreatedBy)).toEqual([
      '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
      '/bin/sh -c #(nop) ADD file:busybox-static-rootfs in / ',
    ]);
    expect(doc[0].size).toBe(0);
    expect(doc[1].size).toBeGreaterThan(1_000_000);
    expect(doc.map((h) => h.created)).toEqual(['2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z']);
  });

  it('--format with a template', async () => {
    const r = await ok(['image', 'history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', 'alpine:3.15'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `${alpine}|/bin/sh -c #(nop)  CMD ["/bin/sh"]\n<missing>|/bin/sh -c #(nop) ADD file:busybox-static-rootfs in / \n`,
    );
  });

  it('of a missing image: exit 125', async () => {
    const r = await fails(['image', 'history', 'no-such-image'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: no-such-image: image not known\n');
  });
});

describe('rmi', () => {
  it('by name, when other names remain: only untags', async () => {
    const r = await ok(['rmi', 'localhost/mine:v1'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Untagged: localhost/mine:v1\n');
    expect(await exists(alpine)).toBe(true);
    expect(await exists('localhost/mine:v1')).toBe(false);
  });

  it('by ID of an image with several names: refused without -f (exit 125)', async () => {
    const r = await fails(['rmi', alpine.slice(0, 12)], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: unable to delete image "[0-9a-f]{64}" by ID with more than one tag .*please force removal/m);
    expect(await exists(alpine)).toBe(true);
  });

  it('-f by ID: untags every name and deletes the image', async () => {
    const r = await ok(['rmi', '-f', alpine.slice(0, 12)], { store });
    expect(r.stderr).toBe('');
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out.filter((l) => l.startsWith('Untagged: ')).sort()).toEqual(
      [`Untagged: ${ALPINE}`, 'Untagged: localhost/mine:v2'].sort(),
    );
    expect(out[out.length - 1]).toBe(`Deleted: ${alpine}`);
    expect(out.length).toBe(3);
    expect(await exists(alpine)).toBe(false);
  });

  it('the last name: untags and deletes', async () => {
    const busybox = await pull(BUSYBOX);
    const r = await ok(['rmi', 'busybox'], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Untagged: ${BUSYBOX}\nDeleted: ${busybox}\n`);
    expect(await exists(busybox)).toBe(false);
  });

  it('image rm is the same command', async () => {
    const busybox = await pull(BUSYBOX);
    const r = await ok(['image', 'rm', BUSYBOX], { store });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`Untagged: ${BUSYBOX}\nDeleted: ${busybox}\n`);
  });

  it('a missing image: exit 1, image not known', async () => {
    const r = await fails(['rmi', 'no-such-image'], 1, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: no-such-image: image not known\n');
  });

  it('a present and a missing image: removes the present one, exit 1', async () => {
    const busybox = await pull(BUSYBOX);
    const r = await fails(['rmi', 'busybox', 'no-such-image'], 1, { store });
    expect(r.stdout).toBe(`Untagged: ${BUSYBOX}\nDeleted: ${busybox}\n`);
    expect(r.stderr).toBe('Error: no-such-image: image not known\n');
    expect(await exists(busybox)).toBe(false);
  });

  it('-a removes every image', async () => {
    const a = await pull('alpine:3.15');
    const b = await pull(BUSYBOX);
    await quiet(['tag', 'alpine:3.15', 'localhost/mine:all']);
    const r = await ok(['rmi', '-a'], { store });
    expect(r.stderr).toBe('');
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out.filter((l) => l.startsWith('Untagged: ')).sort()).toEqual(
      [`Untagged: ${ALPINE}`, `Untagged: ${BUSYBOX}`, 'Untagged: localhost/mine:all'].sort(),
    );
    expect(out.filter((l) => l.startsWith('Deleted: ')).sort()).toEqual([`Deleted: ${a}`, `Deleted: ${b}`].sort());
    expect(out.length).toBe(5);
    expect(await names()).toEqual([]);
    const q = await ok(['images', '-q'], { store });
    expect(q.stdout).toBe('');
  });

  it('-a on an empty store: exit 0, no output', async () => {
    await quiet(['rmi', '-a']);
  });

  it('layers shared by two images survive removing one of them', async () => {
    // alpine and busybox share their only layer (same busybox root filesystem)
    await pull('alpine:3.15');
    const busybox = await pull(BUSYBOX);
    const layer = (id: string) => ok(['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', id], { store });
    expect((await layer('alpine:3.15')).stdout).toBe((await layer(busybox)).stdout);
    await ok(['rmi', 'alpine:3.15'], { store });
    expect(await exists(busybox)).toBe(true);
    // the remaining image is still complete: a fresh pull of it finds nothing to do and the same ID
    expect(await pull(BUSYBOX)).toBe(busybox);
  });
});
