// image inspect / inspect: podman-compatible JSON, checked field by field against what the registry
// serves (manifest list, manifest, config), and --format Go templates.
//
// Requirements: rootless test user, the fixture registry on 127.0.0.1:5000 (docker.io mirror).

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY, cleanStore, fails, ok, storeFor } from './helpers.js';

const store = storeFor('030-image-inspect');
const ALPINE = 'docker.io/library/alpine:3.15';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

async function fetchDoc(path: string): Promise<{ digest: string; doc: any }> {
  const res = await fetch(`http://${REGISTRY}/v2/${path}`, { headers: { Accept: ACCEPT } });
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  return { digest: `sha256:${createHash('sha256').update(body).digest('hex')}`, doc: JSON.parse(body.toString()) };
}

// What the registry says alpine:3.15 (amd64) is.
let listDigest = '';
let manifestDigest = '';
let configDigest = '';
let config: any;
let id = '';

beforeAll(async () => {
  await cleanStore(store);
  const list = await fetchDoc('library/alpine/manifests/3.15');
  listDigest = list.digest;
  manifestDigest = list.doc.manifests.find((m: any) => m.platform.architecture === 'amd64').digest;
  const manifest = await fetchDoc(`library/alpine/manifests/${manifestDigest}`);
  configDigest = manifest.doc.config.digest;
  config = (await fetchDoc(`library/alpine/blobs/${configDigest}`)).doc;

  const r = await ok(['pull', '-q', 'alpine:3.15'], { store });
  expect(r.stderr).toBe('');
  id = r.stdout.trim();
});

afterAll(async () => {
  await cleanStore(store);
});

async function inspect(args: string[]): Promise<any[]> {
  const r = await ok(args, { store });
  expect(r.stderr).toBe('');
  const doc = JSON.parse(r.stdout);
  expect(Array.isArray(doc)).toBe(true);
  return doc;
}

async function format(template: string, ref = 'alpine:3.15', cmd = ['image', 'inspect']): Promise<string> {
  const r = await ok([...cmd, '--format', template, ref], { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('image inspect', () => {
  it('prints a JSON array with podman\'s fields', async () => {
    const [img, ...more] = await inspect(['image', 'inspect', 'alpine:3.15']);
    expect(more).toEqual([]);
    // the image ID is the config digest; Digest is what the tag named (here: the manifest list)
    expect(img.Id).toMatch(/^[0-9a-f]{64}$/);
    expect(img.Id).toBe(configDigest.replace('sha256:', ''));
    expect(img.Id).toBe(id);
    expect(img.Digest).toBe(listDigest);
    expect(img.RepoTags).toEqual([ALPINE]);
    expect([...img.RepoDigests].sort()).toEqual(
      [`docker.io/library/alpine@${listDigest}`, `docker.io/library/alpine@${manifestDigest}`].sort(),
    );
    expect(img.Created).toBe('2024-01-01T00:00:00Z');
    expect(img.Architecture).toBe('amd64');
    expect(img.Os).toBe('linux');
    expect(img.Author).toBe('tspod test fixtures');
    expect(img.Size).toBeGreaterThan(1_000_000); // a static busybox
    expect(img.Config.Cmd).toEqual(['/bin/sh']);
    expect(img.Config.Env).toEqual(config.config.Env);
    expect(img.Config.Labels).toEqual({ 'org.tspod.fixture': 'alpine' });
    expect(img.Labels).toEqual({ 'org.tspod.fixture': 'alpine' });
    expect(img.RootFS).toEqual({ Type: 'layers', Layers: config.rootfs.diff_ids });
    expect(img.History).toEqual(config.history);
    expect(img.ManifestType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('accepts the short ID, the full ID and every name', async () => {
    for (const ref of [id, id.slice(0, 12), `sha256:${id}`, ALPINE, 'alpine:3.15', `docker.io/library/alpine@${listDigest}`]) {
      expect(await format('{{.Id}}', ref)).toBe(`${id}\n`);
    }
  });

  it('--format templates: fields, json, index, range, len', async () => {
    expect(await format('{{.Id}}')).toBe(`${id}\n`);
    expect(await format('{{json .Config.Cmd}}')).toBe('["/bin/sh"]\n');
    expect(await format('{{json .Labels}}')).toBe('{"org.tspod.fixture":"alpine"}\n');
    expect(await format('{{index .Config.Labels "org.tspod.fixture"}}')).toBe('alpine\n');
    expect(await format('{{range .RepoTags}}<{{.}}>{{end}}')).toBe(`<${ALPINE}>\n`);
    expect(await format('{{len .RootFS.Layers}} {{.RootFS.Type}} {{.Architecture}}/{{.Os}}')).toBe('1 layers amd64/linux\n');
    expect(await format('{{.Size}}')).toMatch(/^\d+\n$/);
    // a time.Time field prints the way Go prints it
    expect(await format('{{.Created}}')).toBe('2024-01-01 00:00:00 +0000 UTC\n');
  });

  it('several images: one array entry each, in order', async () => {
    const pulled = await ok(['pull', '-q', 'docker.io/library/busybox:latest'], { store });
    const busybox = pulled.stdout.trim();
    const doc = await inspect(['image', 'inspect', 'alpine:3.15', 'busybox']);
    expect(doc.map((i) => i.Id)).toEqual([id, busybox]);
    expect((await format('{{.Id}}', 'busybox')).trim()).toBe(busybox);
  });

  it('a missing image: exit 125, "image not known"', async () => {
    const r = await fails(['image', 'inspect', 'no-such-image'], 125, { store });
    expect(r.stdout.trim()).toBe('[]');
    expect(r.stderr).toBe('Error: inspecting object: no-such-image: image not known\n');
  });

  it('a missing image among present ones: the present ones are printed, exit 125', async () => {
    const r = await fails(['image', 'inspect', 'alpine:3.15', 'no-such-image'], 125, { store });
    expect(JSON.parse(r.stdout).map((i: any) => i.Id)).toEqual([id]);
    expect(r.stderr).toMatch(/^Error: .*no-such-image: image not known$/m);
  });
});

describe('inspect (any object type)', () => {
  it('inspects an image like image inspect does', async () => {
    const [generic] = await inspect(['inspect', 'alpine:3.15']);
    const [specific] = await inspect(['image', 'inspect', 'alpine:3.15']);
    expect(generic).toEqual(specific);
    expect(await format('{{.Id}}', 'alpine:3.15', ['inspect'])).toBe(`${id}\n`);
    expect(await format('{{.Id}}', 'alpine:3.15', ['inspect', '--type', 'image'])).toBe(`${id}\n`);
  });

  it('a missing object: exit 125, "no such object"', async () => {
    const r = await fails(['inspect', 'no-such-thing'], 125, { store });
    expect(r.stdout.trim()).toBe('[]');
    expect(r.stderr).toBe('Error: inspecting object: no such object: "no-such-thing"\n');
  });

  it('--type image of a missing image: "image not known"', async () => {
    const r = await fails(['inspect', '--type', 'image', 'no-such-image'], 125, { store });
    expect(r.stdout.trim()).toBe('[]');
    expect(r.stderr).toBe('Error: inspecting object: no-such-image: image not known\n');
  });
});
