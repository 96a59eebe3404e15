import { describe, expect, it } from 'vitest';
import { parseRunMount } from '../../src/build/run-mounts.js';

const W = 'Containerfile:3: RUN';

describe('RUN --mount parsing', () => {
  it('defaults: bind of the context root, read-only; relative targets under WORKDIR', () => {
    expect(parseRunMount('target=/src', '/', W)).toMatchObject({ type: 'bind', source: '.', target: '/src', readonly: true });
    expect(parseRunMount('type=bind,src=a/b,dst=rel,rw', '/work', W)).toMatchObject({ source: 'a/b', target: '/work/rel', readonly: false });
  });
  it('cache: read-write unless ro; id, mode (octal), uid, gid, sharing', () => {
    expect(parseRunMount('type=cache,target=/c,id=x,mode=0700,uid=1000,gid=1001,sharing=locked', '/', W)).toMatchObject({
      type: 'cache', target: '/c', id: 'x', mode: 0o700, uid: 1000, gid: 1001, readonly: false,
    });
    expect(parseRunMount('type=cache,target=/c,ro', '/', W).readonly).toBe(true);
  });
  it('tmpfs with a size', () => {
    expect(parseRunMount('type=tmpfs,target=/t,size=64m', '/', W)).toMatchObject({ type: 'tmpfs', size: '64m' });
  });
  const bad: Array<[string, RegExp]> = [
    ['type=secret,id=a,target=/s', /type=secret is not supported/],
    ['type=ssh', /type=ssh is not supported/],
    ['type=volume,target=/v', /unknown type "volume"/],
    ['type=cache', /target is required/],
    ['target=/', /cannot be \//],
    ['target=/a,colour=blue', /unknown option "colour"/],
    ['type=cache,target=/c,uid=x', /uid=x: not a number/],
    ['type=cache,target=/c,sharing=sometimes', /sharing=sometimes/],
    ['target=/a,ro=maybe', /ro=maybe: expected true or false/],
  ];
  for (const [spec, msg] of bad) {
    it(`refuses ${spec}`, () => expect(() => parseRunMount(spec, '/', W)).toThrow(msg));
  }
  it('names the file and line', () => {
    expect(() => parseRunMount('type=nope,target=/x', '/', W)).toThrow(/^Containerfile:3: RUN: --mount: /);
  });
});
