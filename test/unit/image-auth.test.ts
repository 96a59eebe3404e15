import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authFilePaths,
  getCredentials,
  normalizeAuthKey,
  removeAllCredentials,
  removeCredentials,
  storeCredentials,
  type AuthOptions,
} from '../../src/image/auth.js';

let dir: string;
let opts: AuthOptions;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tspod-image-auth-'));
  opts = { home: path.join(dir, 'home'), env: { HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: path.join(dir, 'run') } };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeJson(rel: string, doc: unknown): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, JSON.stringify(doc));
  return p;
}

describe('paths', () => {
  it('runtime dir first, then ~/.config, then docker', () => {
    const p = authFilePaths(opts);
    expect(p.primary).toBe(path.join(dir, 'run/containers/auth.json'));
    expect(p.read).toEqual([
      path.join(dir, 'run/containers/auth.json'),
      path.join(dir, 'home/.config/containers/auth.json'),
      path.join(dir, 'home/.docker/config.json'),
    ]);
  });
  it('without XDG_RUNTIME_DIR, ~/.config is primary', () => {
    expect(authFilePaths({ ...opts, env: { HOME: opts.home } }).primary).toBe(path.join(dir, 'home/.config/containers/auth.json'));
  });
  it('--authfile and REGISTRY_AUTH_FILE are used alone', () => {
    expect(authFilePaths({ ...opts, authfile: '/x/a.json' }).read).toEqual(['/x/a.json']);
    expect(authFilePaths({ ...opts, env: { ...opts.env, REGISTRY_AUTH_FILE: '/y/b.json' } }).read).toEqual(['/y/b.json']);
  });
});

describe('lookup', () => {
  it('normalises keys', () => {
    expect(normalizeAuthKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeAuthKey('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(normalizeAuthKey('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeAuthKey('quay.io/org/repo')).toBe('quay.io/org/repo');
  });

  it('reads auth.json, most specific key first, falling back to docker config', () => {
    writeJson('run/containers/auth.json', {
      auths: {
        'quay.io': { auth: b64('reg:pw') },
        'quay.io/org': { auth: b64('org:pw:with:colons') },
      },
    });
    writeJson('home/.docker/config.json', { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:hubpw') } } });
    expect(getCredentials('quay.io', opts)).toEqual({ username: 'reg', password: 'pw' });
    expect(getCredentials('quay.io', { ...opts, repository: 'org/app' })).toEqual({ username: 'org', password: 'pw:with:colons' });
    expect(getCredentials('docker.io', opts)).toEqual({ username: 'hub', password: 'hubpw' });
    expect(getCredentials('ghcr.io', opts)).toBeUndefined();
  });

  it('identity tokens', () => {
    writeJson('run/containers/auth.json', { auths: { 'r.example': { identitytoken: 'tok' } } });
    expect(getCredentials('r.example', opts)).toEqual({ identityToken: 'tok' });
  });

  it('a broken auth file is a config error naming it', () => {
    const p = path.join(dir, 'run/containers/auth.json');
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, '{"auths": ');
    expect(() => getCredentials('x.example', opts)).toThrow(expect.objectContaining({ code: 'config', message: expect.stringContaining(p) }));
  });
});

describe('login/logout', () => {
  it('writes the primary file with mode 0600 in a 0700 directory, atomically, keeping other keys', () => {
    writeJson('run/containers/auth.json', { auths: { 'a.example': { auth: b64('a:a') } }, credHelpers: { x: 'y' } });
    const file = storeCredentials('127.0.0.1:5000', 'me', 's3cret', opts);
    expect(file).toBe(path.join(dir, 'run/containers/auth.json'));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(doc.credHelpers).toEqual({ x: 'y' });
    expect(Object.keys(doc.auths).sort()).toEqual(['127.0.0.1:5000', 'a.example']);
    expect(getCredentials('127.0.0.1:5000', opts)).toEqual({ username: 'me', password: 's3cret' });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['auth.json']); // no temp files left
  });

  it('creates missing directories 0700', () => {
    const file = storeCredentials('https://index.docker.io/v1/', 'u', 'p', opts);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).auths).toHaveProperty(['docker.io']);
  });

  it('logout removes one entry; logout --all removes every entry', () => {
    storeCredentials('a.example', 'u', 'p', opts);
    storeCredentials('b.example', 'u', 'p', opts);
    removeCredentials('a.example', opts);
    expect(getCredentials('a.example', opts)).toBeUndefined();
    expect(getCredentials('b.example', opts)).toBeDefined();
    expect(() => removeCredentials('a.example', opts)).toThrow('not logged into a.example');
    removeAllCredentials(opts);
    expect(getCredentials('b.example', opts)).toBeUndefined();
  });

  it('logout of docker-only credentials points at docker logout', () => {
    writeJson('home/.docker/config.json', { auths: { 'd.example': { auth: b64('u:p') } } });
    expect(() => removeCredentials('d.example', opts)).toThrow(/Please use docker logout instead/);
    // docker's file is never written
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'home/.docker/config.json'), 'utf8')).auths).toHaveProperty(['d.example']);
  });
});
