// /etc/subuid and /etc/subgid: the subordinate id ranges a user may map (design.md §2).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface IdRange {
  start: number;
  count: number;
}

export interface IdMap {
  containerId: number;
  hostId: number;
  size: number;
}

export function parseSubidFile(text: string, user: string, id: number): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, start, count] = line.split(':');
    if (name !== user && name !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && s >= 0 && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

export function readSubids(kind: 'uid' | 'gid', id: number, user?: string, env: NodeJS.ProcessEnv = process.env): IdRange[] {
  const file = kind === 'uid' ? (env.TSPOD_SUBUID_FILE ?? '/etc/subuid') : (env.TSPOD_SUBGID_FILE ?? '/etc/subgid');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  let name = user;
  if (name === undefined) {
    try {
      name = env.USER ?? userInfo().username;
    } catch {
      name = String(id);
    }
  }
  return parseSubidFile(text, name, id);
}

/** The mapping tspod writes: container 0 = the user, then the subordinate ranges from 1 on. */
export function idMappings(hostId: number, ranges: IdRange[]): IdMap[] {
  const maps: IdMap[] = [{ containerId: 0, hostId, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    maps.push({ containerId: next, hostId: r.start, size: r.count });
    next += r.count;
  }
  return maps;
}

/** Reads the live mapping of a process (/proc/<pid>/uid_map). */
export function readIdMap(pid: number | 'self', kind: 'uid' | 'gid'): IdMap[] {
  try {
    return readFileSync(`/proc/${pid}/${kind}_map`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((a) => a.length === 3)
      .map(([c, h, s]) => ({ containerId: c!, hostId: h!, size: s! }));
  } catch {
    return [];
  }
}
