// login / logout: --password-stdin, the default auth file ($XDG_RUNTIME_DIR/containers/auth.json,
// mode 0600), --authfile, REGISTRY_AUTH_FILE, wrong passwords, token and basic auth registries.
//
// Requirements: rootless test user; registries 127.0.0.1:5001 (token auth via :5002) and, for the
// basic-auth cases, 127.0.0.1:5003 (skipped when it does not answer).

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_REGISTRY, BASIC_REGISTRY, CREDS, TEST_USER, asUser, cleanStore, fails, ok, storeFor } from './helpers.js';

const store = storeFor('050-login');
const [, , uid, , , HOME] = execFileSync('getent', ['passwd', TEST_USER], { encoding: 'utf8' }).split(':');
const RUNTIME_DIR = `/run/user/${uid}`; // what helpers.ts sets as XDG_RUNTIME_DIR
const DEFAULT_AUTH = `${RUNTIME_DIR}/containers/auth.json`;
const WORK = `${HOME}/e2e/050-login.work`;
const BASIC_AUTH = Buffer.from(`${CREDS.username}:${CREDS.password}`).toString('base64');

async function basicRegistryUp(): Promise<boolean> {
  try {
    const res = await fetch(`http://${BASIC_REGISTRY}/v2/`, { signal: AbortSignal.timeout(3000) });
    return res.status === 401 || res.status === 200;
  } catch {
    return false;
  }
}
const BASIC_UP = await basicRegistryUp();
if (!BASIC_UP) console.warn(`skipping basic-auth logins: ${BASIC_REGISTRY} does not answer /v2/`);

/** Reads an auth file as the test user; null when it does not exist. */
async function readAuth(path: string): Promise<{ mode: string; auths: Record<string, { auth?: string }> } | null> {
  const st = await asUser('stat', ['-c', '%a', path]);
  if (st.code !== 0) {
    expect(st.stderr).toMatch(/No such file or directory/);
    return null;
  }
  const cat = await asUser('cat', [path]);
  expect(cat.code).toBe(0);
  return { mode: st.stdout.trim(), auths: (JSON.parse(cat.stdout) as { auths?: Record<string, { auth?: string }> }).auths ?? {} };
}

/** `login [extra] --password-stdin -u tspoduser <registry>` (the password goes to stdin) */
function login(registry: string, extra: string[] = []): string[] {
  return ['login', ...extra, '--password-stdin', '-u', CREDS.username, registry];
}

// <runtime dir>/containers is also podman's rootless run root (which podman makes 0711): a login
// creates it 0700 when it is missing and leaves an existing one as it is.
let runtimeContainersMode = '';

beforeAll(async () => {
  runtimeContainersMode = (await asUser('stat', ['-c', '%a', `${RUNTIME_DIR}/containers`])).stdout.trim();
  await cleanStore(store);
  expect((await asUser('mkdir', ['-p', WORK])).code).toBe(0);
  const r = await ok(['logout', '--all'], { store });
  expect(r.stdout).toBe('Removed login credentials for all registries\n');
});

afterAll(async () => {
  await ok(['logout', '--all'], { store });
  expect((await asUser('rm', ['-rf', WORK])).code).toBe(0);
  await cleanStore(store);
});

describe('login and logout, default auth file', () => {
  it('login --password-stdin prints Login Succeeded! and writes auth.json 0600', async () => {
    const r = await ok(login(AUTH_REGISTRY), { store, input: `${CREDS.password}\n` });
    expect(r.stdout).toBe('Login Succeeded!\n');
    expect(r.stderr).toBe('');
    const auth = await readAuth(DEFAULT_AUTH);
    expect(auth?.mode).toBe('600');
    expect(auth?.auths[AUTH_REGISTRY]?.auth).toBe(BASIC_AUTH);
    const dir = await asUser('stat', ['-c', '%a', `${RUNTIME_DIR}/containers`]);
    expect(dir.stdout.trim()).toBe(runtimeContainersMode || '700');
  });

  it('login again is fine', async () => {
    const r = await ok(login(AUTH_REGISTRY), { store, input: CREDS.password });
    expect(r.stdout).toBe('Login Succeeded!\n');
    expect(r.stderr).toBe('');
  });

  it('login --get-login prints the user name', async () => {
    const r = await ok(['login', '--get-login', AUTH_REGISTRY], { store });
    expect(r.stdout).toBe(`${CREDS.username}\n`);
    expect(r.stderr).toBe('');
  });

  it('a wrong password: exit 125, invalid username/password, stored credentials untouched', async () => {
    const r = await fails(login(AUTH_REGISTRY), 125, { store, input: 'wrong\n' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: logging into "${AUTH_REGISTRY}": invalid username/password\n`);
    expect((await readAuth(DEFAULT_AUTH))?.auths[AUTH_REGISTRY]?.auth).toBe(BASIC_AUTH);
  });

  it('logout removes the credentials', async () => {
    const r = await ok(['logout', AUTH_REGISTRY], { store });
    expect(r.stdout).toBe(`Removed login credentials for ${AUTH_REGISTRY}\n`);
    expect(r.stderr).toBe('');
    const auth = await readAuth(DEFAULT_AUTH);
    expect(auth?.auths[AUTH_REGISTRY]).toBeUndefined();
  });

  it('logout when not logged in: exit 125', async () => {
    const r = await fails(['logout', AUTH_REGISTRY], 125, { store });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: not logged into ${AUTH_REGISTRY}\n`);
    const g = await fails(['login', '--get-login', AUTH_REGISTRY], 125, { store });
    expect(g.stdout).toBe('');
    expect(g.stderr).toBe(`Error: not logged into ${AUTH_REGISTRY}\n`);
  });

  it('a failed first login writes no credentials', async () => {
    await fails(login(AUTH_REGISTRY), 125, { store, input: 'wrong\n' });
    const auth = await readAuth(DEFAULT_AUTH);
    expect(auth?.auths[AUTH_REGISTRY]).toBeUndefined();
  });

  it('logout --all', async () => {
    await ok(login(AUTH_REGISTRY), { store, input: CREDS.password });
    const r = await ok(['logout', '--all'], { store });
    expect(r.stdout).toBe('Removed login credentials for all registries\n');
    expect(r.stderr).toBe('');
    expect(Object.keys((await readAuth(DEFAULT_AUTH))?.auths ?? {})).toEqual([]);
  });
});

describe('--authfile and REGISTRY_AUTH_FILE', () => {
  const authfile = `${WORK}/auth.json`;

  it('login --authfile writes that file (0600), not the default one', async () => {
    const r = await ok(login(AUTH_REGISTRY, ['--authfile', authfile]), {
      store,
      input: CREDS.password,
    });
    expect(r.stdout).toBe('Login Succeeded!\n');
    expect(r.stderr).toBe('');
    const auth = await readAuth(authfile);
    expect(auth?.mode).toBe('600');
    expect(auth?.auths[AUTH_REGISTRY]?.auth).toBe(BASIC_AUTH);
    expect((await readAuth(DEFAULT_AUTH))?.auths[AUTH_REGISTRY]).toBeUndefined();
  });

  it('REGISTRY_AUTH_FILE points login --get-login and logout at the file', async () => {
    const env = { REGISTRY_AUTH_FILE: authfile };
    const g = await ok(['login', '--get-login', AUTH_REGISTRY], { store, env });
    expect(g.stdout).toBe(`${CREDS.username}\n`);
    const r = await ok(['logout', AUTH_REGISTRY], { store, env });
    expect(r.stdout).toBe(`Removed login credentials for ${AUTH_REGISTRY}\n`);
    expect((await readAuth(authfile))?.auths[AUTH_REGISTRY]).toBeUndefined();
  });

  it('logout --authfile', async () => {
    await ok(login(AUTH_REGISTRY, ['--authfile', authfile]), {
      store,
      input: CREDS.password,
    });
    const r = await ok(['logout', '--authfile', authfile, AUTH_REGISTRY], { store });
    expect(r.stdout).toBe(`Removed login credentials for ${AUTH_REGISTRY}\n`);
    expect(r.stderr).toBe('');
    expect((await readAuth(authfile))?.auths[AUTH_REGISTRY]).toBeUndefined();
  });
});

describe.skipIf(!BASIC_UP)('basic-auth registry', () => {
  it('login and logout', async () => {
    const r = await ok(login(BASIC_REGISTRY), { store, input: CREDS.password });
    expect(r.stdout).toBe('Login Succeeded!\n');
    expect(r.stderr).toBe('');
    expect((await readAuth(DEFAULT_AUTH))?.auths[BASIC_REGISTRY]?.auth).toBe(BASIC_AUTH);
    const out = await ok(['logout', BASIC_REGISTRY], { store });
    expect(out.stdout).toBe(`Removed login credentials for ${BASIC_REGISTRY}\n`);
  });

  it('a wrong password: exit 125', async () => {
    const r = await fails(login(BASIC_REGISTRY), 125, { store, input: 'wrong' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Error: logging into "${BASIC_REGISTRY}": invalid username/password\n`);
  });
});
