// --userns=keep-id: the pieces outside the OCI spec. The spec (spec.ts) maps the caller's uid to
// itself in a user namespace of the container's own; here are
// - the fuse-overlayfs id mappings that keep the image's files owned by the same ids as in any
//   other container (root's files stay root's), see storage/mount.ts;
// - the /etc/passwd and /etc/group entries podman adds for the caller when the image has none
//   (podman's userPasswdEntry/userGroupEntry in libpod/container_internal_common.go): name, uid,
//   gid and GECOS of the host user, shell /bin/sh, home = the host home when something is mounted
//   on it (or on a parent of it other than /), else the working directory.
// Pure functions; the engine reads the files and writes the results.
import { keepIdMappings, parseKeepId, type OciIdMapping, type SpecInput } from './spec.js';
import { parseGroup, parsePasswd } from './user.js';

/** The ids the caller gets inside a keep-id container, or undefined when --userns is not keep-id. */
export function keepIdIds(userns: string | undefined, ids: { uid: number; gid: number }): { uid: number; gid: number } | undefined {
  if (!userns?.startsWith('keep-id')) return undefined;
  const o = parseKeepId(userns);
  return { uid: o.uid ?? ids.uid, gid: o.gid ?? ids.gid };
}

/** `containerID:hostID:size[:...]`, what fuse-overlayfs's uidmapping/gidmapping options take. */
export function fuseIdMapping(m: readonly OciIdMapping[]): string {
  return m.map((r) => `${r.containerID}:${r.hostID}:${r.size}`).join(':');
}

/** The fuse-overlayfs mappings for a keep-id container of a user with these ids and ranges. */
export function keepIdFuseMappings(userns: string | undefined, ids: NonNullable<SpecInput['rootlessIds']>): { uid: string; gid: string } | undefined {
  const k = keepIdIds(userns, ids);
  if (!k) return undefined;
  const m = keepIdMappings(ids, k.uid, k.gid);
  return { uid: fuseIdMapping(m.uidMappings), gid: fuseIdMapping(m.gidMappings) };
}

export interface HostUser {
  name: string;
  gecos: string;
  home: string;
  /** The name of the user's primary group on the host (podman names the added group after it). */
  groupName?: string;
}

export interface KeepIdEntriesInput {
  /** The container's /etc/passwd and /etc/group ('' when missing). */
  passwd: string;
  group: string;
  user: HostUser;
  uid: number;
  gid: number;
  /** Container paths something is mounted on (volumes, binds, tmpfs). */
  mountDestinations: readonly string[];
  /** The container's working directory. */
  workdir: string;
}

/** The new passwd and group texts, each only when an entry had to be added. */
export function keepIdEntries(i: KeepIdEntriesInput): { passwd?: string; group?: string; home?: string } {
  const out: { passwd?: string; group?: string; home?: string } = {};
  const users = parsePasswd(i.passwd);
  if (!users.some((u) => u.name === i.user.name || u.uid === i.uid)) {
    let home = i.workdir;
    for (let d = i.user.home; d !== '/' && d !== '.' && d !== ''; d = parentOf(d)) {
      if (i.mountDestinations.includes(d)) {
        home = i.user.home;
        break;
      }
    }
    const sep = i.passwd === '' || i.passwd.endsWith('\n') ? '' : '\n';
    out.passwd = `${i.passwd}${sep}${clean(i.user.name)}:*:${i.uid}:${i.gid}:${clean(i.user.gecos)}:${clean(home)}:/bin/sh\n`;
    out.home = home;
  }
  const groups = parseGroup(i.group);
  const gname = i.user.groupName ?? i.user.name;
  if (!groups.some((g) => g.name === gname || g.gid === i.gid)) {
    const sep = i.group === '' || i.group.endsWith('\n') ? '' : '\n';
    out.group = `${i.group}${sep}${clean(gname)}:x:${i.gid}:${clean(i.user.name)}\n`;
  }
  return out;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Host data in a colon-separated file: no field separators or line breaks. */
function clean(s: string): string {
  return s.replace(/[:\n\r\0]/g, '');
}
