// Registry credentials in containers-auth.json(5) files.
//
// Read order: --authfile / REGISTRY_AUTH_FILE alone when given; else
// $XDG_RUNTIME_DIR/containers/auth.json, $XDG_CONFIG_HOME/containers/auth.json (~/.config/...),
// then Docker's $DOCKER_CONFIG/config.json or ~/.docker/config.json (read only).
// Writes (login, logout) go to the first of those: the primary auth file.
// Keys are host[:port], optionally with a repository namespace (quay.io/org); legacy keys with a
// scheme or path (https://index.docker.io/v1/) are normalised. Credentials are never logged.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TspodError } from '../errors.js';

export type Credentials = { username: string; password: string } | { identityToken: string };

export interface AuthOptions {
  /** --authfile; REGISTRY_AUTH_FILE is used when absent. */
  authfile?: string;
  env?: NodeJS.ProcessEnv;
  /** Defaults to $HOME or os.homedir(). */
  home?: string;
}

const MAX_AUTH_FILE = 4 << 20;

export interface AuthPaths {
  /** Where login writes. */
  primary: string;
  /** Every file read, primary first. */
  read: string[];
  /** Whether the user named the file (then it is the only one). */
  explicit: boolean;
}

export function authFilePaths(opts: AuthOptions = {}): AuthPaths {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? os.homedir();
  const explicit = opts.authfile || env.REGISTRY_AUTH_FILE;
  if (explicit) return { primary: explicit, read: [explicit], explicit: true };
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const userFile = path.join(configHome, 'containers', 'auth.json');
  const runtimeDir = env.XDG_RUNTIME_DIR;
  const read: string[] = [];
  let primary: string;
  if (runtimeDir) {
    primary = path.join(runtimeDir, 'containers', 'auth.json');
    read.push(primary, userFile);
  } else {
    primary = userFile;
    read.push(userFile);
  }
  read.push(env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, 'config.json') : path.join(home, '.docker', 'config.json'));
  return { primary, read, explicit: false };
}

/** Normalises an auth.json key: drops a scheme and a trailing /v1/ path, maps Docker Hub aliases. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  const schemed = /^https?:\/\//.test(k);
  if (schemed) {
    k = k.replace(/^https?:\/\//, '');
    k = k.split('/')[0]!; // legacy keys carry an API path, never a namespace
  }
  k = k.replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = slash === -1 ? k : k.slice(0, slash);
  const rest = slash === -1 ? '' : k.slice(slash);
  const h = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
  return h + rest;
}

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

function readAuthFile(file: string): AuthFile | undefined {
  let buf: Buffer;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new TspodError('config', `reading JSON file "${file}": not a regular file`);
    if (st.size > MAX_AUTH_FILE) throw new TspodError('config', `reading JSON file "${file}": file too large`);
    buf = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof TspodError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TspodError('config', `reading JSON file "${file}": ${(e as Error).message}`, { cause: e });
  }
  if (buf.length === 0) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new TspodError('config', `unmarshaling JSON at "${file}": ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new TspodError('config', `unmarshaling JSON at "${file}": not an object`);
  }
  const f = doc as AuthFile;
  if (f.auths !== undefined && (typeof f.auths !== 'object' || f.auths === null || Array.isArray(f.auths))) {
    throw new TspodError('config', `unmarshaling JSON at "${file}": "auths" is not an object`);
  }
  return f;
}

function decodeEntry(entry: AuthEntry, file: string, key: string): Credentials | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') return { identityToken: entry.identitytoken };
  if (typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) throw new TspodError('config', `reading auth file "${file}": invalid auth entry for ${key}`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Keys to try for a registry and repository, most specific first: quay.io/a/b, quay.io/a, quay.io. */
function lookupKeys(registry: string, repository?: string): string[] {
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  }
  keys.push(registry);
  return keys;
}

/** The credentials for registry (host[:port]) and optionally a repository, or undefined. */
export function getCredentials(registry: string, opts: AuthOptions & { repository?: string } = {}): Credentials | undefined {
  const reg = normalizeAuthKey(registry);
  const keys = lookupKeys(reg, opts.repository);
  for (const file of authFilePaths(opts).read) {
    const doc = readAuthFile(file);
    if (!doc?.auths) continue;
    const normalized = new Map<string, { key: string; entry: AuthEntry }>();
    for (const [k, entry] of Object.entries(doc.auths)) {
      const nk = normalizeAuthKey(k);
      // An exact key wins over a legacy one that normalises to the same name.
      if (!normalized.has(nk) || k === nk) normalized.set(nk, { key: k, entry });
    }
    for (const key of keys) {
      const hit = normalized.get(key);
      if (!hit) continue;
      const creds = decodeEntry(hit.entry, file, key);
      if (creds) return creds;
    }
  }
  return undefined;
}

/** Writes JSON atomically: parent dirs 0700, temp file 0600 in the same directory, fsync, rename. */
function writeAuthFile(file: string, doc: AuthFile): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${JSON.stringify(doc, null, '\t')}\n`);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // best effort
  }
}

/** Stores username/password for `key` (host[:port] or host/namespace) in the primary auth file. */
export function storeCredentials(key: string, username: string, password: string, opts: AuthOptions = {}): string {
  const file = authFilePaths(opts).primary;
  const doc: AuthFile = readAuthFile(file) ?? {};
  const auths = { ...(doc.auths ?? {}) };
  const nk = normalizeAuthKey(key);
  for (const k of Object.keys(auths)) if (k !== nk && normalizeAuthKey(k) === nk) delete auths[k];
  auths[nk] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  writeAuthFile(file, { ...doc, auths });
  return file;
}

/**
 * Removes the entry for `key` from the primary auth file. Throws 'invalid-argument' with podman's
 * wording when there is none (mentioning docker login when only Docker's file has one).
 */
export function removeCredentials(key: string, opts: AuthOptions = {}): string {
  const paths = authFilePaths(opts);
  const file = paths.primary;
  const nk = normalizeAuthKey(key);
  const doc = readAuthFile(file);
  const auths = { ...(doc?.auths ?? {}) };
  const matching = Object.keys(auths).filter((k) => normalizeAuthKey(k) === nk);
  if (doc && matching.length > 0) {
    for (const k of matching) delete auths[k];
    writeAuthFile(file, { ...doc, auths });
    return file;
  }
  const elsewhere = paths.read.slice(1).some((f) => {
    const d = readAuthFile(f);
    return d?.auths !== undefined && Object.keys(d.auths).some((k) => normalizeAuthKey(k) === nk);
  });
  if (elsewhere) {
    throw new TspodError('invalid-argument', `not logged into ${nk} with tspod. Existing credentials were established via docker login. Please use docker logout instead.`);
  }
  throw new TspodError('invalid-argument', `not logged into ${nk}`);
}

/** Removes every entry from the primary auth file (logout --all). */
export function removeAllCredentials(opts: AuthOptions = {}): string {
  const file = authFilePaths(opts).primary;
  const doc = readAuthFile(file);
  if (doc) writeAuthFile(file, { ...doc, auths: {} });
  return file;
}
