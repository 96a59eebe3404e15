// images / image ls: podman's table, -q, --no-trunc, --digests, -a, --format (Go templates, table,
// json) and --filter reference= / dangling= / label=.
//
// Requirements: rootless test user, the fixture registry on 127.0.0.1:5000 (docker.io mirror).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanStore, fails, ok, storeFor } from './helpers.js';

const store = storeFor('020-images');
const ALPINE = 'docker.io/library/alpine:3.15';
const BUSYBOX = 'docker.io/library/busybox:latest';
const PLAIN = 'docker.io/library/plain:latest';
const ids: Record<string, string> = {}; // full 64-hex IDs by reference

async function images(args: string[] = []): Promise<string> {
  const r = await ok(['images', ...args], { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** Non-empty output lines, sorted. */
function lines(out: string): string[] {
  return out.split('\n').filter(Boolean).sort();
}

interface Table {
  header: string;
  columns: Array<{ name: string; start: number }>;
  rows: Array<Record<string, string>>;
}

/** Parses a podman table by the column starts of its header; checks that every row is aligned. */
function parseTable(out: string, names: string[]): Table {
  const [header, ...rest] = out.split('\n').filter(Boolean);
  const columns = names.map((name) => ({ name, start: header.indexOf(name) }));
  for (const [i, c] of columns.entries()) {
    expect(c.start, `column ${c.name} in ${JSON.stringify(header)}`).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(c.start).toBeGreaterThan(columns[i - 1].start);
  }
  expect(header.trimEnd()).toMatch(new RegExp('^' + names.join('\\s+') + '$'));
  const rows = rest.map((line) => {
    const row: Record<string, string> = {};
    for (const [i, c] of columns.entries()) {
      // every value starts exactly under its header, after a blank
      if (c.start > 0) expect(line[c.start - 1], `alignment of ${c.name} in ${JSON.stringify(line)}`).toBe(' ');
      expect(line[c.start], `alignment of ${c.name} in ${JSON.stringify(line)}`).not.toBe(' ');
      const end = i + 1 < columns.length ? columns[i + 1].start : line.length;
      row[c.name] = line.slice(c.start, end).trim();
    }
    return row;
  });
  return { header, columns, rows };
}

const SIZE = /^\d+(\.\d+)? ?[kMG]?B$/;

beforeAll(async () => {
  await cleanStore(store);
  for (const ref of [ALPINE, BUSYBOX, PLAIN]) {
    const r = await ok(['pull', '-q', ref], { store });
    expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(r.stderr).toBe('');
    ids[ref] = r.stdout.trim();
  }
  // plain becomes the dangling image of this file
  const u = await ok(['untag', PLAIN], { store });
  expect(u.stdout).toBe('');
  expect(u.stderr).toBe('');
});

afterAll(async () => {
  await cleanStore(store);
});

describe('images', () => {
  it('prints podman\'s table: REPOSITORY TAG IMAGE ID CREATED SIZE', async () => {
    const t = parseTable(await images(), ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    const got = t.rows.map((r) => `${r.REPOSITORY} ${r.TAG} ${r['IMAGE ID']}`).sort();
    expect(got).toEqual(
      [
        `docker.io/library/alpine 3.15 ${ids[ALPINE].slice(0, 12)}`,
        `docker.io/library/busybox latest ${ids[BUSYBOX].slice(0, 12)}`,
        `<none> <none> ${ids[PLAIN].slice(0, 12)}`,
      ].sort(),
    );
    for (const r of t.rows) {
      expect(r.CREATED).toMatch(/ ago$/); // the fixtures were created on 2024-01-01
      expect(r.SIZE).toMatch(SIZE);
    }
  });

  it('image ls and image list are the same command', async () => {
    const table = await images();
    for (const alias of [['image', 'ls'], ['image', 'list']]) {
      const r = await ok(alias, { store });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(table);
    }
  });

  it('-q prints each image ID once (12 hex), even when an image has several names', async () => {
    const tag = await ok(['tag', ALPINE, 'localhost/e2e-020:second'], { store });
    expect(tag.stdout).toBe('');
    try {
      const out = lines(await images(['-q']));
      for (const l of out) expect(l).toMatch(/^[0-9a-f]{12}$/);
      expect(out).toEqual([ids[ALPINE], ids[BUSYBOX], ids[PLAIN]].map((i) => i.slice(0, 12)).sort());
    } finally {
      await ok(['untag', ALPINE, 'localhost/e2e-020:second'], { store });
    }
  });

  it('--no-trunc prints sha256:<64 hex> IDs', async () => {
    const t = parseTable(await images(['--no-trunc']), ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    expect(t.rows.map((r) => r['IMAGE ID']).sort()).toEqual(
      [ids[ALPINE], ids[BUSYBOX], ids[PLAIN]].map((i) => `sha256:${i}`).sort(),
    );
    expect(lines(await images(['-q', '--no-trunc']))).toEqual(
      [ids[ALPINE], ids[BUSYBOX], ids[PLAIN]].map((i) => `sha256:${i}`).sort(),
    );
  });

  it('--digests adds a DIGEST column after TAG', async () => {
    const t = parseTable(await images(['--digests']), ['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
    for (const ref of [ALPINE, BUSYBOX]) {
      const digest = (await ok(['image', 'inspect', '--format', '{{.Digest}}', ref], { store })).stdout.trim();
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const row = t.rows.find((r) => r['IMAGE ID'] === ids[ref].slice(0, 12));
      expect(row?.DIGEST).toBe(digest);
    }
  });

  it('-a lists the same images (pulled images have no intermediate layers)', async () => {
    const all = parseTable(await images(['-a']), ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    const def = parseTable(await images(), ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    expect(all.rows.map((r) => r['IMAGE ID']).sort()).toEqual(def.rows.map((r) => r['IMAGE ID']).sort());
  });
});

describe('images --format', () => {
  it("'{{.Repository}}:{{.Tag}}' prints one line per name", async () => {
    expect(lines(await images(['--format', '{{.Repository}}:{{.Tag}}']))).toEqual(
      [ALPINE, BUSYBOX, '<none>:<none>'].sort(),
    );
  });

  it("'{{.ID}} {{.Digest}} {{.Size}}' fields", async () => {
    for (const l of lines(await images(['--format', '{{.ID}}|{{.Digest}}|{{.Size}}']))) {
      const [id, digest, size] = l.split('|');
      expect(id).toMatch(/^[0-9a-f]{12}$/);
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(size).toMatch(SIZE);
    }
  });

  it("'table {{.Repository}}\\t{{.Tag}}' prints a header", async () => {
    const t = parseTable(await images(['--format', 'table {{.Repository}}\t{{.Tag}}']), ['REPOSITORY', 'TAG']);
    expect(t.rows.map((r) => `${r.REPOSITORY}:${r.TAG}`).sort()).toEqual([ALPINE, BUSYBOX, '<none>:<none>'].sort());
  });

  it('json parses: Id, Names, Digest, Created, Size, Labels', async () => {
    const doc = JSON.parse(await images(['--format', 'json'])) as Array<Record<string, unknown>>;
    expect(Array.isArray(doc)).toBe(true);
    expect([...new Set(doc.map((i) => i.Id))].sort()).toEqual([ids[ALPINE], ids[BUSYBOX], ids[PLAIN]].sort());
    const names = new Set<string>();
    for (const i of doc) {
      expect(i.Id).toMatch(/^[0-9a-f]{64}$/);
      expect(i.Digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(i.Created).toBe(Date.parse('2024-01-01T00:00:00Z') / 1000);
      expect(i.Size).toBeGreaterThan(100_000);
      expect(Array.isArray(i.Names) || i.Id === ids[PLAIN]).toBe(true);
      for (const n of (i.Names as string[] | null) ?? []) names.add(n);
    }
    expect([...names].sort()).toEqual([ALPINE, BUSYBOX].sort());
    const alpine = doc.find((i) => i.Id === ids[ALPINE]);
    expect(alpine?.Labels).toEqual({ 'org.tspod.fixture': 'alpine' });
  });
});

describe('images --filter', () => {
  it('reference=alpine matches the repository name', async () => {
    expect(lines(await images(['--filter', 'reference=alpine', '--format', '{{.Repository}}:{{.Tag}}']))).toEqual([
      ALPINE,
    ]);
    expect(
      lines(await images(['--filter', 'reference=docker.io/library/busybox', '--format', '{{.Repository}}:{{.Tag}}'])),
    ).toEqual([BUSYBOX]);
    expect(await images(['--filter', 'reference=no-such-repo', '--format', '{{.ID}}'])).toBe('');
  });

  it('an image argument filters like reference=', async () => {
    expect(lines(await images(['--format', '{{.Repository}}:{{.Tag}}', 'busybox']))).toEqual([BUSYBOX]);
    // nothing matches: only the header
    const none = await images(['no-such-image']);
    expect(none.trimEnd()).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  });

  it('dangling=true lists only the untagged image; dangling=false the others', async () => {
    expect(lines(await images(['--filter', 'dangling=true', '--format', '{{.ID}} {{.Repository}} {{.Tag}}']))).toEqual([
      `${ids[PLAIN].slice(0, 12)} <none> <none>`,
    ]);
    expect(lines(await images(['--filter', 'dangling=true', '-q']))).toEqual([ids[PLAIN].slice(0, 12)]);
    expect(lines(await images(['--filter', 'dangling=false', '--format', '{{.Repository}}:{{.Tag}}']))).toEqual(
      [ALPINE, BUSYBOX].sort(),
    );
  });

  it('label=key=value and label=key', async () => {
    expect(
      lines(await images(['--filter', 'label=org.tspod.fixture=alpine', '--format', '{{.Repository}}:{{.Tag}}'])),
    ).toEqual([ALPINE]);
    expect(lines(await images(['--filter', 'label=org.tspod.fixture', '-q']))).toEqual(
      [ids[ALPINE], ids[BUSYBOX], ids[PLAIN]].map((i) => i.slice(0, 12)).sort(),
    );
    expect(await images(['--filter', 'label=org.tspod.fixture=nothing', '-q'])).toBe('');
  });

  it('an unknown filter is exit 125', async () => {
    const r = await fails(['images', '--filter', 'no-such-filter=1'], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*no-such-filter/m);
  });
});
