// `--user`/image `User` and `--group-add`, resolved against the container's own /etc/passwd and
// /etc/group (parsed here, read through the RootfsView: regular files only, 1 MiB cap), never the
// host's. An id that does not parse is an error, never root (containerd CVE-2024-40635).
// The rules follow runc's libcontainer/user.GetExecUser, which podman uses.
import { TspodError } from '../errors.js';
import { CONTAINER_FILE_MAX, readContainerFile, type RootfsView } from './confine.js';

/** Largest uid/gid accepted (the kernel's ids are u32, but 2^31 and up break too many programs). */
export const MAX_ID = 2 ** 31 - 1;

export type IdOrName = { kind: 'id'; id: number } | { kind: 'name'; name: string };

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

/**
 * A uid/gid or a user/group name. Numbers are decimal digits only, 0..2^31-1. Anything starting
 * with a digit, a sign or a dot that is not such a number (`-1`, `1.5`, `0x10`, `1e3`) is refused,
 * as is anything that is not a plausible passwd name.
 */
export function parseIdOrName(s: string, what: 'user' | 'group'): IdOrName {
  if (s === '') throw new TspodError('invalid-argument', `invalid ${what}: empty ${what} name or id`);
  if (/^[0-9]+$/.test(s)) {
    const n = s.length > 12 ? Infinity : Number(s);
    if (!Number.isSafeInteger(n) || n > MAX_ID) {
      throw new TspodError('invalid-argument', `invalid ${what} id ${JSON.stringify(s)}: must be between 0 and ${MAX_ID}`);
    }
    return { kind: 'id', id: n };
  }
  if (s.length > 256 || !NAME_RE.test(s)) {
    throw new TspodError('invalid-argument', `invalid ${what} ${JSON.stringify(s)}: not a valid ${what} name or id`);
  }
  return { kind: 'name', name: s };
}

export interface UserSpec {
  user: IdOrName;
  group?: IdOrName;
}

/** `name`, `uid`, `name:group`, `uid:gid` (and mixes). Empty parts are errors. */
export function parseUserSpec(spec: string): UserSpec {
  const parts = spec.split(':');
  if (parts.length > 2) {
    throw new TspodError('invalid-argument', `invalid user ${JSON.stringify(spec)}: expected user[:group]`);
  }
  const user = parseIdOrName(parts[0], 'user');
  if (parts.length === 1) return { user };
  return { user, group: parseIdOrName(parts[1], 'group') };
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

function lines(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-') || line.includes('\0')) {
      continue;
    }
    out.push(line.split(':'));
  }
  return out;
}

/** Parses /etc/passwd text; malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of lines(text)) {
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (f[0] === '' || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** Parses /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of lines(text)) {
    const gid = parseId(f[2]);
    if (f[0] === '' || gid === undefined) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: the container's /etc/group memberships, then --group-add. */
  additionalGids: number[];
  /** From passwd, `/` when the user has no entry. */
  home: string;
  /** The passwd name, when the user has an entry. */
  name?: string;
}

export interface ResolveUserOptions {
  /** `-u` or the image's User; empty/undefined = root. */
  user?: string;
  groupAdd?: readonly string[];
  /** Add a named user's primary group to the supplementary ones (podman run: yes; exec: no). */
  primaryAsSupplementary?: boolean;
}

/** Loads the container's passwd and group files lazily (only when a name must be looked up). */
class ContainerDb {
  private passwd?: PasswdEntry[];
  private group?: GroupEntry[];
  constructor(private readonly view: RootfsView) {}
  users(): PasswdEntry[] {
    this.passwd ??= parsePasswd(readContainerFile(this.view, '/etc/passwd', CONTAINER_FILE_MAX) ?? '');
    return this.passwd;
  }
  groups(): GroupEntry[] {
    this.group ??= parseGroup(readContainerFile(this.view, '/etc/group', CONTAINER_FILE_MAX) ?? '');
    return this.group;
  }
}

function lookupGroup(db: ContainerDb, g: IdOrName): number {
  if (g.kind === 'id') return g.id;
  const found = db.groups().find((e) => e.name === g.name);
  if (!found) {
    throw new TspodError('invalid-argument', `unable to find group ${g.name}: no matching entries in group file`);
  }
  return found.gid;
}

/**
 * Resolves the container process's user like runc's GetExecUser: a numeric uid needs no passwd entry
 * (gid 0, HOME=/ then); a name must exist. With an explicit group, no membership groups are added.
 */
export function resolveUser(view: RootfsView, opts: ResolveUserOptions): ResolvedUser {
  const db = new ContainerDb(view);
  const spec = opts.user === undefined || opts.user === '' ? undefined : parseUserSpec(opts.user);
  const groupAdd = (opts.groupAdd ?? []).map((g) => {
    if (g === 'keep-groups') {
      throw new TspodError('unsupported', '--group-add keep-groups is not supported with this OCI runtime');
    }
    return parseIdOrName(g, 'group');
  });

  let uid = 0;
  let gid = 0;
  let home = '/';
  let entry: PasswdEntry | undefined;
  const u = spec?.user ?? { kind: 'id', id: 0 };
  if (u.kind === 'id') {
    uid = u.id;
    // root needs no lookup unless groups depend on it; reading passwd is cheap, keep one rule
    entry = db.users().find((e) => e.uid === u.id);
  } else {
    entry = db.users().find((e) => e.name === u.name);
    if (!entry) {
      throw new TspodError('invalid-argument', `unable to find user ${u.name}: no matching entries in passwd file`);
    }
    uid = entry.uid;
  }
  if (entry) {
    gid = entry.gid;
    if (entry.home !== '') home = entry.home;
  }

  const additional: number[] = [];
  // As podman: a user named with -u also gets its primary group as a supplementary one.
  const primary = spec !== undefined && opts.primaryAsSupplementary !== false;
  if (primary) additional.push(gid);
  if (spec?.group) {
    gid = lookupGroup(db, spec.group);
    if (primary) additional[0] = gid;
  } else if (entry) {
    const name = entry.name;
    for (const g of db.groups()) if (g.members.includes(name)) additional.push(g.gid);
  }
  for (const g of groupAdd) additional.push(lookupGroup(db, g));

  const seen = new Set<number>();
  const additionalGids = additional.filter((g) => (seen.has(g) ? false : (seen.add(g), true)));
  const out: ResolvedUser = { uid, gid, additionalGids, home };
  if (entry) out.name = entry.name;
  return out;
}
