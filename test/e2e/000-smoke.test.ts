// The installed binary starts at all, as the test user.
import { describe, expect, it } from 'vitest';
import { fails, ok } from './helpers.js';

describe('smoke', () => {
  it('--version prints the version', async () => {
    const r = await ok(['--version']);
    expect(r.stdout).toMatch(/^(tspod|podman) version \S+/m);
  });

  it('version exits 0', async () => {
    const r = await ok(['version']);
    expect(r.stdout).toMatch(/\S/);
  });

  it('--help lists pull and images', async () => {
    const r = await ok(['--help']);
    expect(r.stdout).toMatch(/\bpull\b/);
    expect(r.stdout).toMatch(/\bimages\b/);
  });

  it('an unknown command exits 125 with an Error: line', async () => {
    const r = await fails(['no-such-command'], 125);
    expect(r.stderr).toMatch(/^Error: /m);
  });
});
