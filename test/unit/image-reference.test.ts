import { describe, expect, it } from 'vitest';
import { TspodError } from '../../src/errors.js';
import {
  familiarName,
  formatReference,
  isShortName,
  normalizeReference,
  parseReference,
  validateDigest,
} from '../../src/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  const ok: Array<[string, object]> = [
    ['alpine', { repository: 'alpine' }],
    ['alpine:3.15', { repository: 'alpine', tag: '3.15' }],
    ['user/app', { repository: 'user/app' }],
    ['library/alpine:latest', { repository: 'library/alpine', tag: 'latest' }],
    ['localhost/a', { registry: 'localhost', repository: 'a' }],
    ['localhost:5000/a/b:tag', { registry: 'localhost:5000', repository: 'a/b', tag: 'tag' }],
    ['127.0.0.1:5000/x', { registry: '127.0.0.1:5000', repository: 'x' }],
    ['[::1]:5000/x', { registry: '[::1]:5000', repository: 'x' }],
    ['quay.io/a/b/c', { registry: 'quay.io', repository: 'a/b/c' }],
    [`alpine@${D}`, { repository: 'alpine', digest: D }],
    [`name:tag@${D}`, { repository: 'name', tag: 'tag', digest: D }],
    ['a_b.c-d__e/f--g', { repository: 'a_b.c-d__e/f--g' }],
    ['alpine:Tag_1.x', { repository: 'alpine', tag: 'Tag_1.x' }],
  ];
  for (const [input, want] of ok) {
    it(`parses ${input}`, () => expect(parseReference(input)).toEqual(want));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /invalid reference format/],
    ['Alpine', /repository name must be lowercase/],
    ['localhost:5000/Foo', /repository name must be lowercase/],
    ['User/app', /repository name must be lowercase/],
    ['alpine:', /invalid reference format/],
    ['alpine::x', /invalid reference format/],
    ['-alpine', /invalid reference format/],
    ['alpine/', /invalid reference format/],
    ['a//b', /invalid reference format/],
    ['alpine@sha256:abc', /invalid reference format/],
    [`alpine:${'x'.repeat(129)}`, /invalid reference format/],
    ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
    [`${'a'.repeat(200)}/${'b'.repeat(60)}`, /must not be more than 255 characters/],
    ['foo bar', /invalid reference format/],
  ];
  for (const [input, re] of bad) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TspodError);
      expect((err as TspodError).code).toBe('invalid-argument');
      expect((err as TspodError).message).toMatch(re);
    });
  }
});

describe('normalizeReference', () => {
  const table: Array<[string, string]> = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.15', 'docker.io/library/alpine:3.15'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    [`name:tag@${D}`, `docker.io/library/name:tag@${D}`],
    ['quay.io/x', 'quay.io/x:latest'],
  ];
  for (const [input, want] of table) {
    it(`${input} → ${want}`, () => expect(formatReference(normalizeReference(input))).toBe(want));
  }
  it('can leave the tag off', () => {
    expect(normalizeReference('alpine', { defaultTag: false })).toEqual({ registry: 'docker.io', repository: 'library/alpine' });
  });
});

describe('names', () => {
  it('isShortName', () => {
    expect(isShortName('alpine')).toBe(true);
    expect(isShortName('library/alpine:3')).toBe(true);
    expect(isShortName(`alpine@${D}`)).toBe(true);
    expect(isShortName('localhost/a')).toBe(false);
    expect(isShortName('quay.io/a')).toBe(false);
    expect(isShortName('h:5000/a')).toBe(false);
  });
  it('familiarName shows podman full names, docker short ones on request', () => {
    expect(familiarName(parseReference('alpine:3'))).toBe('docker.io/library/alpine');
    expect(familiarName(parseReference('alpine:3'), { docker: true })).toBe('alpine');
    expect(familiarName(parseReference('user/app'), { docker: true })).toBe('user/app');
    expect(familiarName(parseReference('quay.io/a/b'), { docker: true })).toBe('quay.io/a/b');
  });
});

describe('validateDigest', () => {
  it('accepts sha256', () => expect(validateDigest(D)).toBe(D));
  it('refuses sha512 as unsupported', () => {
    expect(() => validateDigest(`sha512:${'b'.repeat(128)}`)).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });
  it('refuses other algorithms as unsupported', () => {
    expect(() => validateDigest(`md5:${'b'.repeat(32)}`)).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });
  for (const bad of [`sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, 'sha256:../../etc/passwd', `sha256:${'a'.repeat(64)}/x`, 'x', 42]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => validateDigest(bad)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    });
  }
  it('reports hostile content when asked', () => {
    expect(() => validateDigest('sha256:zz', 'hostile-content')).toThrow(expect.objectContaining({ code: 'hostile-content' }));
  });
});
