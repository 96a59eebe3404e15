// The engine's side of --userns=keep-id (rootless): the user's ids and ranges, the host user's
// passwd data, and the passwd/group files bind-mounted into the container (runtime/keepid.ts
// computes them). The files are written to the container's userdata directory and owned by the
// container's root (the user namespace's id 1), as podman's are.
import { lchownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readContainerFile, type RootfsView } from '../runtime/confine.js';
import { keepIdEntries, keepIdIds, type HostUser } from '../runtime/keepid.js';
import { keepIdMappings, type OciIdMapping } from '../runtime/spec.js';
import { parseKeepId, type SpecInput } from '../runtime/spec.js';
import { parseGroup, parsePasswd } from '../runtime/user.js';
import { readSubids } from '../userns/subid.js';
import type { EngineContext } from './context.js';

type Ctx = Pick<EngineContext, 'rootless' | 'hostUid' | 'hostGid' | 'env'>;
const idsCache = new WeakMap<Ctx, SpecInput['rootlessIds']>();

/** The user's host ids and the sizes of their subordinate ranges (rootless only; read once per context). */
export function rootlessIds(ctx: Ctx): SpecInput['rootlessIds'] {
  if (!ctx.rootless) return undefined;
  if (idsCache.has(ctx)) return idsCache.get(ctx);
  const size = (kind: 'uid' | 'gid'): number => readSubids(kind, ctx.hostUid, undefined, ctx.env).reduce((n, r) => n + r.count, 0);
  const ids = { uid: ctx.hostUid, gid: ctx.hostGid, subUidSize: size('uid'), subGidSize: size('gid') };
  idsCache.set(ctx, ids);
  return ids;
}

/** The keep-id ids of a container (undefined unless rootless with --userns=keep-id*). */
function keepIdOf(ctx: Ctx, userns: string | undefined): { ids: NonNullable<SpecInput['rootlessIds']>; k: { uid: number; gid: number } } | undefined {
  if (!ctx.rootless || !userns?.startsWith('keep-id')) return undefined;
  const ids = rootlessIds(ctx);
  const k = ids ? keepIdIds(userns, ids) : undefined;
  return ids && k ? { ids, k } : undefined;
}

/**
 * Container ids → ids of the user's namespace (where tspod runs), for files tspod creates or chowns
 * for the container's process (a missing working directory, `:U` volumes). The identity unless the
 * container has a keep-id user namespace of its own.
 */
export function containerToNamespaceIds(
  ctx: Ctx,
  userns: string | undefined,
): (o: { uid: number; gid: number }) => { uid: number; gid: number } {
  const kk = keepIdOf(ctx, userns);
  if (!kk) return (o) => o;
  const { ids, k } = kk;
  const m = keepIdMappings(ids, k.uid, k.gid);
  // an id the container namespace does not map: overflow, as the kernel shows it
  const map = (id: number, ranges: OciIdMapping[]): number => {
    const r = ranges.find((x) => id >= x.containerID && id < x.containerID + x.size);
    return r ? r.hostID + (id - r.containerID) : 65534;
  };
  return (o) => ({ uid: map(o.uid, m.uidMappings), gid: map(o.gid, m.gidMappings) });
}

/**
 * GNU tar arguments that give a keep-id container's files their own ids when tar reads them through
 * the shifted (fuse-overlayfs) root: export and cp out of the container must show the image's root
 * files as 0, not as the namespace's id that stands for 0 inside. [] for other containers. The map
 * files (one line per shifted id) are written to the container's userdata directory.
 */
export function tarOwnerMapArgs(ctx: Ctx, userns: string | undefined, userdata: string): string[] {
  const kk = keepIdOf(ctx, userns);
  if (!kk) return [];
  const { ids, k } = kk;
  const m = keepIdMappings(ids, k.uid, k.gid);
  const lines = (ranges: OciIdMapping[]): string => {
    let out = '';
    for (const r of ranges) {
      if (r.containerID === r.hostID) continue;
      for (let i = 0; i < r.size; i++) out += `+${r.hostID + i} +${r.containerID + i}\n`;
    }
    return out;
  };
  const owner = join(userdata, 'tar-owner-map');
  const group = join(userdata, 'tar-group-map');
  writeFileSync(owner, lines(m.uidMappings), { mode: 0o600 });
  writeFileSync(group, lines(m.gidMappings), { mode: 0o600 });
  return [`--owner-map=${owner}`, `--group-map=${group}`];
}

/** The host's passwd entry for uid (the host's /etc/passwd is visible in the user's namespace). */
function hostUser(uid: number, gid: number): HostUser | undefined {
  const read = (f: string): string => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const text = read('/etc/passwd');
  const e = parsePasswd(text).find((u) => u.uid === uid);
  if (!e) return undefined;
  const gecos = text.split('\n').find((l) => l.startsWith(`${e.name}:`))?.split(':')[4] ?? '';
  const groupName = parseGroup(read('/etc/group')).find((g) => g.gid === gid)?.name;
  return { name: e.name, gecos, home: e.home, groupName };
}

export interface KeepIdFiles {
  passwd?: string;
  group?: string;
  /** The added files' contents, for resolving the user against them. */
  passwdText?: string;
  groupText?: string;
}

/** Writes <userdata>/passwd and /group when the caller needs entries the image does not have. */
export function writeKeepIdFiles(
  ctx: Ctx,
  userns: string | undefined,
  view: RootfsView,
  userdata: string,
  opts: { mountDestinations: string[]; workdir: string },
): KeepIdFiles {
  const kk = keepIdOf(ctx, userns);
  if (!kk) return {};
  const { ids, k } = kk;
  // As podman: keep-id:uid=N gets a generic "container user" entry named after the ids, plain
  // keep-id the caller's own name, GECOS and (when mounted) home.
  const user: HostUser | undefined =
    parseKeepId(userns ?? '').uid !== undefined
      ? { name: String(k.uid), gecos: 'container user', home: '', groupName: String(k.gid) }
      : hostUser(ctx.hostUid, ctx.hostGid);
  if (!user) return {};
  const e = keepIdEntries({
    passwd: readContainerFile(view, '/etc/passwd') ?? '',
    group: readContainerFile(view, '/etc/group') ?? '',
    user,
    uid: k.uid,
    gid: k.gid,
    mountDestinations: opts.mountDestinations,
    workdir: opts.workdir,
  });
  const out: KeepIdFiles = { passwdText: e.passwd, groupText: e.group };
  const write = (name: 'passwd' | 'group', text: string | undefined): void => {
    if (text === undefined) return;
    const f = join(userdata, name);
    writeFileSync(f, text, { mode: 0o644 });
    // id 1 of the user's namespace is root in the container's (keepIdMappings)
    if (ids.subUidSize > 0 && ids.subGidSize > 0) lchownSync(f, 1, 1);
    out[name] = f;
  };
  write('passwd', e.passwd);
  write('group', e.group);
  return out;
}
