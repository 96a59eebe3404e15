// registries.conf (containers-registries.conf(5), v2 TOML): where an image name is pulled from.
//
// Files: CONTAINERS_REGISTRIES_CONF (or an explicit path) alone; else ~/.config/containers/registries.conf
// with ~/.config/containers/registries.conf.d/*.conf; else /etc/containers/registries.conf with
// /etc/containers/registries.conf.d/*.conf then ~/.config/containers/registries.conf.d/*.conf.
// Drop-ins apply in lexical order per directory: [[registry]] entries replace those with the same
// prefix, aliases merge key by key, scalar settings and the search list replace.
//
// Departure from containers/image: with CONTAINERS_REGISTRIES_CONF set, c/image still reads the
// drop-in directories; tspod reads that file alone so a test or user can state the whole truth.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseTomlCached, parseTomlFileCached } from '../util/toml.js';
import { TspodError } from '../errors.js';
import { type ImageReference, type NamedReference, isValidRegistry, normalizeReference, parseReference } from './reference.js';

export type ShortNameMode = 'enforcing' | 'permissive' | 'disabled';
export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface Endpoint {
  /** host[:port][/path]; empty only for a wildcard prefix without location. */
  location: string;
  insecure: boolean;
  pullFromMirror?: PullFromMirror;
}

export interface RegistryEntry extends Endpoint {
  prefix: string;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: Endpoint[];
  /** The file that defined this entry. */
  origin: string;
}

export interface Alias {
  /** Undefined when a drop-in reset the alias with "". */
  value?: NamedReference;
  origin: string;
}

export interface RegistriesConf {
  registries: RegistryEntry[];
  unqualifiedSearchRegistries: string[];
  /** The file that set unqualified-search-registries (for error messages). */
  searchOrigin?: string;
  shortNameMode: ShortNameMode;
  aliases: Map<string, Alias>;
  /** Every file read, in order. */
  files: string[];
  /** A description of where configuration is looked for, for error messages. */
  description: string;
}

export interface LoadRegistriesOptions {
  /** An explicit registries.conf; read alone (like CONTAINERS_REGISTRIES_CONF). */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Defaults to os.homedir(). */
  home?: string;
  /** Defaults to /etc/containers/registries.conf; for tests. */
  systemPath?: string;
  /** Defaults to /etc/containers/registries.conf.d; for tests. */
  systemDropInDir?: string;
}

const DEFAULT_SHORT_NAME_MODE: ShortNameMode = 'permissive';

export interface FileConf {
  registries?: RegistryEntry[];
  unqualifiedSearchRegistries?: string[];
  shortNameMode?: ShortNameMode;
  aliases?: Map<string, Alias>;
}

function configError(file: string, msg: string): TspodError {
  return new TspodError('config', `loading registries configuration "${file}": ${msg}`);
}

/** Loads registries.conf and its drop-ins. A missing default file is an empty configuration. */
export function loadRegistriesConf(opts: LoadRegistriesOptions = {}): RegistriesConf {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? os.homedir();
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const userFile = path.join(configHome, 'containers', 'registries.conf');
  const userDir = path.join(configHome, 'containers', 'registries.conf.d');
  const systemFile = opts.systemPath ?? '/etc/containers/registries.conf';
  const systemDir = opts.systemDropInDir ?? '/etc/containers/registries.conf.d';

  const explicit = opts.path ?? (env.CONTAINERS_REGISTRIES_CONF || undefined);
  let mainFile: string;
  let dirs: string[];
  let mustExist = false;
  if (explicit) {
    mainFile = explicit;
    dirs = [];
    mustExist = true;
  } else if (fs.existsSync(userFile)) {
    mainFile = userFile;
    dirs = [userDir];
  } else {
    mainFile = systemFile;
    dirs = [systemDir, userDir];
  }

  const conf: RegistriesConf = {
    registries: [],
    unqualifiedSearchRegistries: [],
    shortNameMode: DEFAULT_SHORT_NAME_MODE,
    aliases: new Map(),
    files: [],
    description: [mainFile, ...dirs].join(', '),
  };
  const main = parseRegistriesFile(mainFile, false);
  if (main === undefined) {
    if (mustExist) throw configError(mainFile, 'no such file or directory');
  } else {
    conf.files.push(mainFile);
    merge(conf, main, mainFile);
  }
  for (const dir of dirs) {
    for (const file of dropIns(dir)) {
      const f = parseRegistriesFile(file, true);
      if (f === undefined) continue; // removed since the listing
      conf.files.push(file);
      merge(conf, f, file);
    }
  }
  return conf;
}

function dropIns(dir: string): string[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new TspodError('config', `reading registries.conf.d: ${(e as Error).message}`);
  }
  return names
    .filter((d) => !d.isDirectory() && d.name.endsWith('.conf'))
    .map((d) => d.name)
    .sort()
    .map((n) => path.join(dir, n));
}

function merge(into: RegistriesConf, from: FileConf, file: string): void {
  if (from.registries) {
    const byPrefix = new Map(into.registries.map((r) => [r.prefix, r]));
    for (const r of from.registries) byPrefix.set(r.prefix, r);
    into.registries = [...byPrefix.keys()].sort().map((k) => byPrefix.get(k)!);
  }
  if (from.unqualifiedSearchRegistries) {
    into.unqualifiedSearchRegistries = from.unqualifiedSearchRegistries;
    into.searchOrigin = file;
  }
  if (from.shortNameMode) into.shortNameMode = from.shortNameMode;
  if (from.aliases) for (const [k, v] of from.aliases) into.aliases.set(k, v);
}

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Parses one registries.conf file. `dropIn` refuses the v1 format. */
export function parseRegistriesConf(text: string, file: string, dropIn = false): FileConf {
  return fromToml(() => parseTomlCached(text) as Table, file, dropIn)!;
}

/** Reads and parses one registries.conf file (cached by its stat); undefined when it is missing. */
function parseRegistriesFile(file: string, dropIn: boolean): FileConf | undefined {
  return fromToml(() => {
    try {
      return parseTomlFileCached(file) as Table | undefined;
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { line?: number };
      if (err.code !== undefined && err.line === undefined) throw configError(file, err.message);
      throw e;
    }
  }, file, dropIn);
}

function fromToml(parse: () => Table | undefined, file: string, dropIn: boolean): FileConf | undefined {
  let doc: Table | undefined;
  try {
    doc = parse();
  } catch (e) {
    if (e instanceof TspodError) throw e;
    const err = e as Error & { line?: number; col?: number };
    const first = String(err.message).split('\n')[0]!.replace(/ at row \d+, col \d+, pos \d+:?$/, '');
    if (typeof err.line === 'number') {
      throw configError(file, `line ${err.line + 1}, column ${(err.col ?? 0) + 1}: ${first}`);
    }
    throw configError(file, first);
  }
  if (doc === undefined) return undefined;
  const out: FileConf = {};

  const v1 = doc.registries;
  if (v1 !== undefined) {
    if (dropIn) throw configError(file, 'registry must be in v2 format but is in v1');
    if (doc.registry !== undefined || doc['unqualified-search-registries'] !== undefined) {
      throw configError(file, 'mixing sysregistry v1/v2 is not supported');
    }
    return parseV1(v1, file);
  }

  const usr = doc['unqualified-search-registries'];
  if (usr !== undefined) {
    if (!Array.isArray(usr) || !usr.every((x) => typeof x === 'string')) {
      throw configError(file, 'unqualified-search-registries must be an array of strings');
    }
    out.unqualifiedSearchRegistries = usr.map((r: string) => {
      const loc = parseLocation(r, file);
      if (!isValidRegistry(loc)) throw configError(file, `Invalid unqualified-search-registries entry ${JSON.stringify(loc)}`);
      return loc;
    });
  }

  const mode = doc['short-name-mode'];
  if (mode !== undefined && mode !== '') {
    if (mode !== 'enforcing' && mode !== 'permissive' && mode !== 'disabled') {
      throw configError(file, `invalid short-name mode: ${JSON.stringify(mode)}`);
    }
    out.shortNameMode = mode;
  }

  const aliases = doc.aliases;
  if (aliases !== undefined) {
    if (!isTable(aliases)) throw configError(file, '[aliases] must be a table');
    out.aliases = new Map();
    for (const [name, value] of Object.entries(aliases)) {
      validateAliasName(name, file);
      if (typeof value !== 'string') throw configError(file, `alias ${JSON.stringify(name)} must be a string`);
      out.aliases.set(name, value === '' ? { origin: file } : { value: parseAliasValue(value, file), origin: file });
    }
  }

  const regs = doc.registry;
  if (regs !== undefined) {
    if (!Array.isArray(regs) || !regs.every(isTable)) throw configError(file, '[[registry]] must be an array of tables');
    out.registries = postProcess(regs.map((r) => parseRegistry(r as Table, file)), file);
  }
  return out;
}

function parseV1(v1: unknown, file: string): FileConf {
  if (!isTable(v1)) throw configError(file, '[registries] must be a table');
  const list = (key: string): string[] => {
    const t = v1[key];
    if (t === undefined) return [];
    const regs = isTable(t) ? t.registries : undefined;
    if (!Array.isArray(regs) || !regs.every((x) => typeof x === 'string')) {
      throw configError(file, `registries.${key}.registries must be an array of strings`);
    }
    return regs.map((r: string) => parseLocation(r, file));
  };
  const byLoc = new Map<string, RegistryEntry>();
  const get = (loc: string): RegistryEntry => {
    let r = byLoc.get(loc);
    if (!r) {
      r = { prefix: loc, location: loc, insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [], origin: file };
      byLoc.set(loc, r);
    }
    return r;
  };
  for (const b of list('block')) get(b).blocked = true;
  for (const i of list('insecure')) get(i).insecure = true;
  const out: FileConf = { registries: postProcess([...byLoc.values()], file) };
  const search = list('search');
  if (v1.search !== undefined) out.unqualifiedSearchRegistries = search;
  return out;
}

function parseLocation(input: string, file: string): string {
  const trimmed = input.replace(/\/+$/, '');
  if (/^https?:\/\//.test(trimmed)) throw configError(file, `invalid location '${input}': URI schemes are not supported`);
  return trimmed;
}

function bool(t: Table, key: string, file: string): boolean {
  const v = t[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw configError(file, `${key} must be a boolean`);
  return v;
}

function str(t: Table, key: string, file: string): string {
  const v = t[key];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw configError(file, `${key} must be a string`);
  return v;
}

function parsePullFromMirror(t: Table, file: string, location: string): PullFromMirror | undefined {
  const v = str(t, 'pull-from-mirror', file);
  if (v === '') return undefined;
  if (v !== 'all' && v !== 'digest-only' && v !== 'tag-only') {
    throw configError(file, `unsupported pull-from-mirror value ${JSON.stringify(v)} for mirror ${JSON.stringify(location)}`);
  }
  return v;
}

function parseRegistry(t: Table, file: string): RegistryEntry {
  const location = parseLocation(str(t, 'location', file), file);
  let prefix = str(t, 'prefix', file);
  if (prefix === '') {
    if (location === '') throw configError(file, 'invalid condition: both location and prefix are unset');
    prefix = location;
  } else {
    prefix = parseLocation(prefix, file);
    if (prefix.startsWith('*.')) {
      if (/[/@:]/.test(prefix)) {
        throw configError(file, `Wildcarded prefix should be in the format: *.example.com. Current prefix ${JSON.stringify(prefix)} is incorrectly formatted`);
      }
    } else if (location === '') {
      throw configError(file, 'invalid condition: location is unset and prefix is not in the format: *.example.com');
    }
  }
  if (t['pull-from-mirror'] !== undefined) {
    throw configError(file, `pull-from-mirror must not be set for a non-mirror registry ${JSON.stringify(prefix)}`);
  }
  const mirrorByDigestOnly = bool(t, 'mirror-by-digest-only', file);
  const mirrorsRaw = t.mirror;
  const mirrors: Endpoint[] = [];
  if (mirrorsRaw !== undefined) {
    if (!Array.isArray(mirrorsRaw) || !mirrorsRaw.every(isTable)) throw configError(file, '[[registry.mirror]] must be an array of tables');
    for (const m of mirrorsRaw as Table[]) {
      const loc = parseLocation(str(m, 'location', file), file);
      if (loc === '') throw configError(file, 'invalid condition: mirror location is unset');
      const pfm = parsePullFromMirror(m, file, loc);
      if (mirrorByDigestOnly && pfm !== undefined) {
        throw configError(
          file,
          `cannot set mirror usage mirror-by-digest-only for the registry (${JSON.stringify(prefix)}) and pull-from-mirror for per-mirror (${JSON.stringify(loc)}) at the same time`,
        );
      }
      const ep: Endpoint = { location: loc, insecure: bool(m, 'insecure', file) };
      if (pfm) ep.pullFromMirror = pfm;
      mirrors.push(ep);
    }
  }
  return { prefix, location, insecure: bool(t, 'insecure', file), blocked: bool(t, 'blocked', file), mirrorByDigestOnly, mirrors, origin: file };
}

/** Conflict checks, then the first entry per prefix wins (as in containers/image). */
function postProcess(regs: RegistryEntry[], file: string): RegistryEntry[] {
  const byLocation = new Map<string, RegistryEntry>();
  for (const r of regs) {
    const key = r.location || r.prefix;
    const other = byLocation.get(key);
    if (other) {
      if (other.insecure !== r.insecure) throw configError(file, `registry '${r.location}' is defined multiple times with conflicting 'insecure' setting`);
      if (other.blocked !== r.blocked) throw configError(file, `registry '${r.location}' is defined multiple times with conflicting 'blocked' setting`);
    } else {
      byLocation.set(key, r);
    }
  }
  const byPrefix = new Map<string, RegistryEntry>();
  for (const r of regs) if (!byPrefix.has(r.prefix)) byPrefix.set(r.prefix, r);
  return [...byPrefix.keys()].sort().map((k) => byPrefix.get(k)!);
}

function validateAliasName(name: string, file: string): void {
  let ref: ImageReference;
  try {
    ref = parseReference(name);
  } catch (e) {
    throw configError(file, `cannot parse short name: ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  if (ref.digest !== undefined) throw configError(file, `invalid short name ${JSON.stringify(name)}: must not contain digest`);
  if (ref.tag !== undefined) throw configError(file, `invalid short name ${JSON.stringify(name)}: must not contain tag`);
  if (ref.registry !== undefined) throw configError(file, `invalid short name ${JSON.stringify(name)}: must not contain registry`);
}

function parseAliasValue(value: string, file: string): NamedReference {
  let ref: ImageReference;
  try {
    ref = parseReference(value);
  } catch (e) {
    throw configError(file, `parsing alias ${JSON.stringify(value)}: ${(e as Error).message}`);
  }
  if (ref.digest !== undefined) throw configError(file, `invalid alias ${JSON.stringify(value)}: must not contain digest`);
  if (ref.tag !== undefined) throw configError(file, `invalid alias ${JSON.stringify(value)}: must not contain tag`);
  if (ref.registry === undefined) throw configError(file, `invalid alias ${JSON.stringify(value)}: must contain registry and repository`);
  return normalizeReference(ref, { defaultTag: false });
}
