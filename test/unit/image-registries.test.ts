import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import { normalizeReference } from '../../src/image/reference.js';
import {
  findRegistry,
  loadRegistriesConf,
  pullSources,
  refMatchingPrefix,
  resolveImageName,
  type LoadRegistriesOptions,
} from '../../src/image/registries.js';

let dir: string;
let opts: LoadRegistriesOptions;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-image-registries-'));
  fs.mkdirSync(path.join(dir, 'etc', 'registries.conf.d'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true });
  opts = {
    env: { HOME: path.join(dir, 'home') },
    home: path.join(dir, 'home'),
    systemPath: path.join(dir, 'etc', 'registries.conf'),
    systemDropInDir: path.join(dir, 'etc', 'registries.conf.d'),
  };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

function resolve(name: string) {
  return resolveImageName(loadRegistriesConf(opts), name);
}

describe('loading', () => {
  it('no file at all: empty config, short names fail like podman', () => {
    const conf = loadRegistriesConf(opts);
    expect(conf.registries).toEqual([]);
    expect(() => resolveImageName(conf, 'alpine')).toThrow(/short-name "alpine" did not resolve to an alias and no containers-registries.conf\(5\) was found/);
  });

  it('a qualified name needs no config', () => {
    const r = resolve('quay.io/a/b:1');
    expect(r.candidates).toHaveLength(1);
    expect(r.candidates[0]!.name).toBe('quay.io/a/b:1');
    expect(r.candidates[0]!.sources).toEqual([
      { registry: 'quay.io', repository: 'a/b', reference: normalizeReference('quay.io/a/b:1'), insecure: false, mirror: false },
    ]);
  });

  it('CONTAINERS_REGISTRIES_CONF is read alone and must exist', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["sys.example"]');
    const p = write('custom.conf', 'unqualified-search-registries = ["custom.example"]');
    const conf = loadRegistriesConf({ ...opts, env: { ...opts.env, CONTAINERS_REGISTRIES_CONF: p } });
    expect(conf.unqualifiedSearchRegistries).toEqual(['custom.example']);
    expect(conf.files).toEqual([p]);
    expect(() => loadRegistriesConf({ ...opts, path: path.join(dir, 'missing.conf') })).toThrow(TspodError);
  });

  it('the user file replaces the system one', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["sys.example"]');
    write('etc/registries.conf.d/10.conf', 'short-name-mode = "disabled"');
    write('home/.config/containers/registries.conf', 'unqualified-search-registries = ["user.example"]');
    const conf = loadRegistriesConf(opts);
    expect(conf.unqualifiedSearchRegistries).toEqual(['user.example']);
    expect(conf.shortNameMode).toBe('permissive'); // system drop-ins are not read
  });

  it('drop-ins apply in lexical order, system dir then user dir', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["a.example"]\nshort-name-mode = "enforcing"\n[aliases]\n"x" = "a.example/x"\n"y" = "a.example/y"\n');
    write('etc/registries.conf.d/20-b.conf', 'unqualified-search-registries = ["b.example"]\n[aliases]\n"x" = "b.example/x"\n');
    write('etc/registries.conf.d/10-a.conf', 'unqualified-search-registries = ["z.example"]\n');
    write('etc/registries.conf.d/ignored.txt', 'this is not toml [');
    write('home/.config/containers/registries.conf.d/00.conf', '[aliases]\n"y" = ""\n');
    const conf = loadRegistriesConf(opts);
    expect(conf.unqualifiedSearchRegistries).toEqual(['b.example']);
    expect(conf.searchOrigin).toBe(path.join(dir, 'etc/registries.conf.d/20-b.conf'));
    expect(conf.shortNameMode).toBe('enforcing');
    expect(conf.aliases.get('x')?.value).toEqual({ registry: 'b.example', repository: 'x' });
    expect(conf.aliases.get('y')?.value).toBeUndefined();
    expect(conf.files.map((f) => path.relative(dir, f))).toEqual([
      'etc/registries.conf',
      'etc/registries.conf.d/10-a.conf',
      'etc/registries.conf.d/20-b.conf',
      'home/.config/containers/registries.conf.d/00.conf',
    ]);
  });

  it('a drop-in [[registry]] replaces the entry with the same prefix', () => {
    write('etc/registries.conf', '[[registry]]\nlocation = "r.example"\ninsecure = true\n');
    write('etc/registries.conf.d/50.conf', '[[registry]]\nprefix = "r.example"\nlocation = "r2.example"\n');
    const conf = loadRegistriesConf(opts);
    expect(conf.registries).toHaveLength(1);
    expect(conf.registries[0]).toMatchObject({ prefix: 'r.example', location: 'r2.example', insecure: false });
  });

  it('a TOML syntax error names the file and the line', () => {
    const p = write('etc/registries.conf', 'unqualified-search-registries = ["a.example"]\n\n[[registry]\nlocation = "x"\n');
    let err: unknown;
    try {
      loadRegistriesConf(opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TspodError);
    expect((err as TspodError).code).toBe('config');
    expect((err as TspodError).message).toContain(`"${p}"`);
    expect((err as TspodError).message).toMatch(/line 3\b/);
  });

  it('a syntax error in a drop-in names the drop-in', () => {
    write('etc/registries.conf', '');
    const p = write('etc/registries.conf.d/99-bad.conf', 'a = 1\nb = "unterminated\n');
    expect(() => loadRegistriesConf(opts)).toThrow(new RegExp(`${p.replace(/[.]/g, '\\.')}.*line 2`));
  });

  it('invalid values are config errors', () => {
    write('etc/registries.conf', 'short-name-mode = "loud"');
    expect(() => loadRegistriesConf(opts)).toThrow(/invalid short-name mode/);
    write('etc/registries.conf', '[[registry]]\nlocation = "https://x.example"');
    expect(() => loadRegistriesConf(opts)).toThrow(/URI schemes are not supported/);
    write('etc/registries.conf', '[aliases]\n"quay.io/x" = "quay.io/x"');
    expect(() => loadRegistriesConf(opts)).toThrow(/must not contain registry/);
    write('etc/registries.conf', '[aliases]\n"x" = "x:1"');
    expect(() => loadRegistriesConf(opts)).toThrow(/must not contain tag/);
    write('etc/registries.conf', '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "sometimes"\n');
    expect(() => loadRegistriesConf(opts)).toThrow(/unsupported pull-from-mirror value/);
  });

  it('reads the v1 format in the main file', () => {
    write('etc/registries.conf', '[registries.search]\nregistries = ["a.example"]\n[registries.insecure]\nregistries = ["i.example"]\n[registries.block]\nregistries = ["b.example"]\n');
    const conf = loadRegistriesConf(opts);
    expect(conf.unqualifiedSearchRegistries).toEqual(['a.example']);
    expect(findRegistry(conf, 'i.example/x')?.insecure).toBe(true);
    expect(findRegistry(conf, 'b.example/x')?.blocked).toBe(true);
  });
});

describe('short names', () => {
  it('one search registry: one candidate with :latest', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["docker.io"]\nshort-name-mode="enforcing"');
    const r = resolve('alpine');
    expect(r.candidates.map((c) => c.name)).toEqual(['docker.io/library/alpine:latest']);
    expect(r.candidates[0]!.sources[0]).toMatchObject({ registry: 'docker.io', repository: 'library/alpine' });
  });

  it('several search registries: permissive tries all, enforcing refuses without a TTY', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["quay.io", "docker.io"]\nshort-name-mode = "permissive"\n');
    expect(resolve('user/app:1').candidates.map((c) => c.name)).toEqual(['quay.io/user/app:1', 'docker.io/user/app:1']);
    write('etc/registries.conf.d/mode.conf', 'short-name-mode = "enforcing"');
    expect(() => resolve('user/app')).toThrow('short-name resolution enforced but cannot prompt without a TTY');
    write('etc/registries.conf.d/mode.conf', 'short-name-mode = "disabled"');
    expect(resolve('user/app').candidates).toHaveLength(2);
  });

  it('an alias wins, keeping tag and digest', () => {
    const d = `sha256:${'c'.repeat(64)}`;
    write('etc/registries.conf', 'unqualified-search-registries = ["quay.io", "docker.io"]\nshort-name-mode = "enforcing"\n[aliases]\n"alpine" = "docker.io/library/alpine"\n"fedora" = "registry.fedoraproject.org/fedora"\n');
    expect(resolve('alpine:3.15').candidates.map((c) => c.name)).toEqual(['docker.io/library/alpine:3.15']);
    expect(resolve(`fedora@${d}`).candidates.map((c) => c.name)).toEqual([`registry.fedoraproject.org/fedora@${d}`]);
    expect(resolve('alpine').description).toMatch(/^Resolved "alpine" as an alias \(/);
  });

  it('no search registries with a config file names the file', () => {
    const p = write('etc/registries.conf', 'short-name-mode = "enforcing"');
    expect(() => resolve('alpine')).toThrow(`short-name "alpine" did not resolve to an alias and no unqualified-search registries are defined in "${p}"`);
  });
});

describe('[[registry]]: prefixes, mirrors, blocked', () => {
  it('refMatchingPrefix', () => {
    expect(refMatchingPrefix('example.com/foo', 'example.com')).toBe(11);
    expect(refMatchingPrefix('example.com.evil/foo', 'example.com')).toBe(-1);
    expect(refMatchingPrefix('example.com/foobar', 'example.com/foo')).toBe(-1);
    expect(refMatchingPrefix('example.com/foo/bar', 'example.com/foo')).toBe(15);
    expect(refMatchingPrefix('a.example.com/x', '*.example.com')).toBe(13);
    expect(refMatchingPrefix('example.com/x', '*.example.com')).toBe(-1);
    expect(refMatchingPrefix('a.example.com.evil/x', '*.example.com')).toBe(-1);
    expect(refMatchingPrefix('x.io/a.example.com/x', '*.example.com')).toBe(-1);
  });

  it('mirrors first, then the primary; longest prefix with rewriting', () => {
    write(
      'etc/registries.conf',
      `
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000/hub"
insecure = true
[[registry.mirror]]
location = "digests.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.example"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "docker.io/library/busybox"
location = "internal.example/mirrored/busybox"
`,
    );
    const conf = loadRegistriesConf(opts);
    const tagSources = pullSources(conf, normalizeReference('alpine:3.15'));
    expect(tagSources.map((s) => [s.registry, s.repository, s.insecure, s.mirror, s.reference.tag])).toEqual([
      ['127.0.0.1:5000', 'hub/library/alpine', true, true, '3.15'],
      ['tags.example', 'library/alpine', false, true, '3.15'],
      ['docker.io', 'library/alpine', false, false, '3.15'],
    ]);
    const d = `sha256:${'e'.repeat(64)}`;
    const digestSources = pullSources(conf, normalizeReference(`alpine@${d}`));
    expect(digestSources.map((s) => s.registry)).toEqual(['127.0.0.1:5000', 'digests.example', 'docker.io']);
    expect(digestSources[1]!.reference.digest).toBe(d);
    const bb = pullSources(conf, normalizeReference('busybox:1'));
    expect(bb.map((s) => `${s.registry}/${s.repository}:${s.reference.tag}`)).toEqual(['internal.example/mirrored/busybox:1']);
    // "busybox" is a prefix of "busyboxes" as a string, not as a path
    expect(pullSources(conf, normalizeReference('busyboxes')).at(-1)!.registry).toBe('docker.io');
  });

  it('mirror-by-digest-only skips mirrors for tags', () => {
    write('etc/registries.conf', '[[registry]]\nlocation = "quay.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\n');
    const conf = loadRegistriesConf(opts);
    expect(pullSources(conf, normalizeReference('quay.io/a:1')).map((s) => s.registry)).toEqual(['quay.io']);
    expect(pullSources(conf, normalizeReference(`quay.io/a@sha256:${'1'.repeat(64)}`)).map((s) => s.registry)).toEqual(['m.example', 'quay.io']);
  });

  it('wildcard prefixes match subdomains and keep the name', () => {
    write('etc/registries.conf', '[[registry]]\nprefix = "*.example.com"\ninsecure = true\n[[registry.mirror]]\nlocation = "mirror.local"\n');
    const conf = loadRegistriesConf(opts);
    const s = pullSources(conf, normalizeReference('a.example.com/x/y:2'));
    expect(s.map((x) => [x.registry, x.repository, x.insecure])).toEqual([
      ['mirror.local', 'x/y', false],
      ['a.example.com', 'x/y', true],
    ]);
    expect(pullSources(conf, normalizeReference('example.com/x'))[0]!.insecure).toBe(false);
  });

  it('a blocked registry is an error naming it', () => {
    write('etc/registries.conf', 'unqualified-search-registries = ["bad.example", "good.example"]\n[[registry]]\nlocation = "bad.example"\nblocked = true\n');
    expect(() => resolve('bad.example/x')).toThrow(expect.objectContaining({ code: 'registry', message: expect.stringMatching(/^registry bad\.example is blocked in /) }));
    const r = resolve('x');
    expect(r.candidates[0]!.error?.message).toMatch(/bad\.example is blocked/);
    expect(r.candidates[1]!.sources[0]!.registry).toBe('good.example');
  });

  it('conflicting insecure settings for one location are refused', () => {
    write('etc/registries.conf', '[[registry]]\nlocation = "a.example"\ninsecure = true\n[[registry]]\nprefix = "a.example/x"\nlocation = "a.example"\n');
    expect(() => loadRegistriesConf(opts)).toThrow(/conflicting 'insecure' setting/);
  });
});
