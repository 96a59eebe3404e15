// Volume verbs: create, ensure (for `run -v name:/path`), list with podman's filters, inspect,
// remove, prune, exists. Storage and crash consistency are in src/storage/volumes.ts.
//
// "users" is a callback giving the IDs of the containers that use a volume: the container store
// is not ours, so the Engine supplies it (see usersOf).
import { randomBytes } from '../util/random.js';
import { TspodError } from '../errors.js';
import { GoTime } from '../format/gotime.js';
import type { Store } from '../storage/store.js';
import { VolumeStore, type VolumeRecord } from '../storage/volumes.js';

export type { VolumeRecord };
export type VolumeUsers = (name: string) => string[];

/** Podman's name rule; it also keeps names from ever being a path (`..`, `/`). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Option keys the local driver accepts (podman 4.3). */
const LOCAL_OPTIONS = new Set(['device', 'type', 'o', 'size', 'inodes', 'uid', 'gid', 'copy', 'nocopy', 'noquota']);

/** podman volume inspect's JSON shape (InspectVolumeData), keys in podman's order. */
export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: GoTime;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
  /** omitempty in podman's JSON: when false it is non-enumerable, so templates still see `false`. */
  Anonymous: boolean;
  MountCount: number;
  NeedsCopyUp: boolean;
  NeedsChown: boolean;
}

export interface CreateVolumeOptions {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** A taken name returns the existing volume instead of failing. */
  ignoreIfExists?: boolean;
  /** Mark as anonymous (a container's `-v /path`); implied for ensureVolume without a name. */
  anonymous?: boolean;
}

/**
 * The one place that knows how to ask an Engine for a volume's users. Engine.volumeUsers may not
 * exist in every build of the lead's file: without it, nothing counts as in use.
 */
export function usersOf(engine: object): VolumeUsers {
  const fn = (engine as { volumeUsers?: (name: string) => string[] }).volumeUsers;
  return typeof fn === 'function' ? (name) => fn.call(engine, name) : () => [];
}

export function validateVolumeName(name: string): void {
  if (!NAME.test(name)) {
    throw new TspodError('invalid-argument', 'running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument');
  }
}

function noSuchVolume(name: string): TspodError {
  return new TspodError('no-such-volume', `no volume with name "${name}" found: no such volume`);
}

/** `--label k=v` / `--label k` (empty value); podman refuses an empty key. */
export function parseLabels(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    if (l === '') continue;
    const eq = l.indexOf('=');
    const key = eq === -1 ? l : l.slice(0, eq);
    if (key.trim() === '') throw new TspodError('invalid-argument', `unable to process labels: invalid label format: "${l}"`);
    out[key] = eq === -1 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** `--opt k=v` / `--opt k`, kept as given (validated by createVolume). */
export function parseVolumeOptions(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of list) {
    const eq = o.indexOf('=');
    out[eq === -1 ? o : o.slice(0, eq)] = eq === -1 ? '' : o.slice(eq + 1);
  }
  return out;
}

/** Checks the local driver's options; `o=uid=N,gid=N` also records UID/GID, as podman does. */
function localOptions(options: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    if (!LOCAL_OPTIONS.has(k.toLowerCase())) throw new TspodError('invalid-argument', `invalid mount option ${k} for driver 'local': invalid argument`);
    out[k] = v;
    if (k.toLowerCase() !== 'o') continue;
    for (const part of v.split(',')) {
      const m = /^(uid|gid)=(.*)$/.exec(part);
      if (!m) continue;
      if (!/^\d+$/.test(m[2]!)) throw new TspodError('invalid-argument', `cannot convert ${m[1]} ${m[2]} to integer: invalid argument`);
      out[m[1]!.toUpperCase()] = String(Number(m[2]));
    }
  }
  return out;
}

export async function createVolume(store: Store, opts: CreateVolumeOptions = {}): Promise<VolumeRecord> {
  const driver = opts.driver || 'local';
  const name = opts.name ?? randomBytes(32).toString('hex');
  if (opts.name !== undefined) validateVolumeName(opts.name);
  if (driver !== 'local') {
    throw new TspodError('unsupported', `volume ${name} uses volume plugin ${driver} but it could not be retrieved: no volume plugin with name ${driver} available: required plugin missing`);
  }
  const rec: VolumeRecord = {
    name,
    driver: 'local',
    labels: { ...opts.labels },
    options: localOptions(opts.options ?? {}),
    created: new Date().toISOString(),
    anonymous: opts.anonymous ?? false,
  };
  const r = await new VolumeStore(store).create(rec);
  if (!r.created && !opts.ignoreIfExists) throw new TspodError('exists', `volume with name ${name} already exists: volume already exists`);
  return r.record;
}

/** The volume for `-v name:/path` (created if missing) or `-v /path` (a new anonymous one). */
export async function ensureVolume(store: Store, name?: string): Promise<{ name: string; mountpoint: string }> {
  const rec = await createVolume(store, { name, ignoreIfExists: true, anonymous: name === undefined });
  return { name: rec.name, mountpoint: new VolumeStore(store).dataDir(rec.name) };
}

export function volumeExists(store: Store, name: string): boolean {
  return NAME.test(name) && new VolumeStore(store).get(name) !== undefined;
}

export function lookupVolume(store: Store, name: string): VolumeRecord {
  const rec = NAME.test(name) ? new VolumeStore(store).get(name) : undefined;
  if (!rec) throw noSuchVolume(name);
  return rec;
}

export function mountpointOf(store: Store, name: string): string {
  return new VolumeStore(store).dataDir(lookupVolume(store, name).name);
}

export function toInspect(store: Store, rec: VolumeRecord): VolumeInspect {
  const out = {
    Name: rec.name,
    Driver: rec.driver,
    Mountpoint: new VolumeStore(store).dataDir(rec.name),
    CreatedAt: new GoTime(rec.created),
    Labels: { ...rec.labels },
    Scope: 'local',
    Options: { ...rec.options },
    ...(rec.anonymous ? { Anonymous: true } : {}),
    MountCount: 0,
    NeedsCopyUp: !rec.chowned,
    NeedsChown: !rec.chowned,
  } as VolumeInspect;
  if (!rec.anonymous) Object.defineProperty(out, 'Anonymous', { value: false, enumerable: false });
  return out;
}


/** inspect's error wording differs from rm's: `no such volume X` (the CLI adds "inspecting object: "). */
export function inspectVolume(store: Store, name: string): VolumeInspect {
  const rec = NAME.test(name) ? new VolumeStore(store).get(name) : undefined;
  if (!rec) throw new TspodError('no-such-volume', `no such volume ${name}`);
  return toInspect(store, rec);
}

// ---- filters ---------------------------------------------------------------------------------

type Pred = (v: VolumeRecord) => boolean;

/** Go's strconv.ParseBool. */
function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** filepath.Match-style pattern (label keys): * ? and [...] classes. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** label=KEY or label=KEY=VALUE; KEY may be a glob; an empty VALUE matches any value. */
function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  const key = eq === -1 ? filter : filter.slice(0, eq);
  const value = eq === -1 ? '' : filter.slice(eq + 1);
  let re: RegExp | undefined;
  try {
    re = globToRegExp(key);
  } catch {
    re = undefined;
  }
  return Object.entries(labels).some(([k, v]) => (value === '' || v === value) && (k === key || (re?.test(k) ?? false)));
}

const GO_DURATION = /^([0-9]*(\.[0-9]*)?(ns|us|\u00b5s|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** until=: a Go duration (before now), a unix time in seconds, or a date/time. Returns ms since the epoch. */
export function parseUntil(value: string, now: number = Date.now()): number {
  if (GO_DURATION.test(value) && value !== '') {
    let ms = 0;
    for (const m of value.matchAll(/([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|ms|s|m|h)/g)) ms += Number(m[1] || 0) * UNIT_MS[m[2]!]!;
    return now - ms;
  }
  if (value === '0') return now;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value.length === 10 ? `${value}T00:00:00` : value);
    if (!Number.isNaN(t)) return t;
  }
  throw new TspodError('invalid-argument', `failed to parse value as time or duration: "${value}"`);
}

/**
 * Filters as podman takes them (KEY=VALUE): name= (regular expression), label=, driver=,
 * dangling= (true|false, needs users), until=. Values of one key are ORed; different keys are
 * ANDed (Docker's rule, and libpod's documented one; podman 4.3's CLI ORs them all).
 */
export function volumeFilter(filters: readonly string[], users: VolumeUsers = () => []): Pred {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new TspodError('invalid-argument', `filter input must be in the form of filter=value: ${f} is invalid`);
    const key = f.slice(0, eq);
    byKey.set(key, [...(byKey.get(key) ?? []), f.slice(eq + 1)]);
  }
  const preds: Pred[] = [];
  for (const [key, values] of byKey) {
    switch (key) {
      case 'name': {
        const res = values.map((v) => {
          try {
            return new RegExp(v);
          } catch (e) {
            throw new TspodError('invalid-argument', `error parsing regexp: ${(e as Error).message}`);
          }
        });
        preds.push((v) => res.some((re) => re.test(v.name)));
        break;
      }
      case 'label':
        preds.push((v) => values.some((f) => labelMatches(v.labels, f)));
        break;
      case 'driver':
        preds.push((v) => values.includes(v.driver));
        break;
      case 'dangling': {
        const wants = values.map((val) => {
          const b = parseBool(val);
          if (b === undefined) throw new TspodError('invalid-argument', `"${val}" is not a valid value for the "dangling" filter - must be true or false`);
          return b;
        });
        preds.push((v) => {
          const dangling = users(v.name).length === 0;
          return wants.some((w) => w === dangling);
        });
        break;
      }
      case 'until': {
        const times = values.map((val) => parseUntil(val));
        preds.push((v) => times.some((t) => Date.parse(v.created) <= t));
        break;
      }
      default:
        throw new TspodError('invalid-argument', `"${key}" is an invalid volume filter`);
    }
  }
  return (v) => preds.every((p) => p(v));
}

export function listVolumes(store: Store, filters: readonly string[] = [], users?: VolumeUsers): VolumeRecord[] {
  const pred = volumeFilter(filters, users);
  return new VolumeStore(store).list().filter(pred);
}

// ---- removal ---------------------------------------------------------------------------------

export interface RemoveVolumeOptions {
  /** Remove even if in use; missing volumes are not an error. */
  force?: boolean;
  /**
   * With force: removes one container using the volume; called for each before the volume goes.
   * Without it, the volume is removed and the caller gets the list to remove them itself.
   */
  removeContainer?: (id: string) => Promise<unknown>;
}

export interface RemoveVolumeResult {
  /** False only with force on a missing volume. */
  removed: boolean;
  /** Containers that used the volume (with force). */
  containers: string[];
}

function inUse(name: string, ids: string[]): TspodError {
  return new TspodError(
    'invalid-argument',
    `volume ${name} is being used by the following container(s): ${[...ids].sort().join(', ')}: volume is being used`,
    { exitCode: 2 },
  );
}

export async function removeVolume(store: Store, name: string, opts: RemoveVolumeOptions, users: VolumeUsers): Promise<RemoveVolumeResult> {
  if (!NAME.test(name) || !new VolumeStore(store).get(name)) {
    if (opts.force) return { removed: false, containers: [] };
    throw noSuchVolume(name);
  }
  let containers = users(name);
  if (containers.length && !opts.force) throw inUse(name, containers);
  if (containers.length && opts.removeContainer) {
    for (const id of containers) await opts.removeContainer(id);
  }
  const rec = await new VolumeStore(store).remove(name, () => {
    // Checked again under the lock. Without force, a container that appeared meanwhile wins.
    const now = users(name);
    if (now.length && !opts.force) throw inUse(name, now);
    if (opts.force) containers = [...new Set([...containers, ...now])];
  });
  if (!rec && !opts.force) throw noSuchVolume(name);
  return { removed: rec !== undefined, containers };
}

/** Unused volumes matching the filters, which prune would remove (for its prompt). */
export function pruneCandidates(store: Store, filters: readonly string[], users: VolumeUsers): VolumeRecord[] {
  return listVolumes(store, filters, users).filter((v) => users(v.name).length === 0);
}

/** Removes every unused volume matching the filters; returns the removed names. */
export async function pruneVolumes(store: Store, filters: readonly string[], users: VolumeUsers): Promise<string[]> {
  const vs = new VolumeStore(store);
  const removed: string[] = [];
  for (const v of pruneCandidates(store, filters, users)) {
    try {
      const rec = await vs.remove(v.name, () => {
        if (users(v.name).length) throw inUse(v.name, users(v.name));
      });
      if (rec) removed.push(v.name);
    } catch (e) {
      if (e instanceof TspodError && e.exitCode === 2) continue; // in use since we looked
      throw e;
    }
  }
  await vs.gc();
  return removed;
}

/**
 * For `rm -v` / `run --rm`: removes the anonymous ones among a container's volumes once no other
 * container uses them. Named volumes stay, as in podman. Missing ones are ignored.
 */
export async function removeAnonymousVolumes(store: Store, names: readonly string[], users: VolumeUsers): Promise<string[]> {
  const vs = new VolumeStore(store);
  const removed: string[] = [];
  for (const name of names) {
    const rec = NAME.test(name) ? vs.get(name) : undefined;
    if (!rec?.anonymous || users(name).length) continue;
    try {
      const rec = await vs.remove(name, () => {
        if (users(name).length) throw inUse(name, users(name));
      });
      if (rec) removed.push(name);
    } catch (e) {
      if (!(e instanceof TspodError && e.exitCode === 2)) throw e; // in use since we looked: keep it
    }
  }
  return removed;
}
