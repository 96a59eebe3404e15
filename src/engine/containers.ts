// Container records: create, look up, list (with state reconciliation), rename, remove.
import { randomBytes } from '../util/random.js';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import type { ContainerConfig, ContainerRecord, ContainerStore } from '../storage/containers.js';

const ADJ = ['admiring', 'bold', 'brave', 'clever', 'eager', 'elastic', 'focused', 'gifted', 'happy', 'jolly', 'keen', 'lucid', 'nifty', 'quirky', 'serene', 'sharp', 'stoic', 'tender', 'vibrant', 'zealous'];
const NOUN = ['babbage', 'curie', 'darwin', 'euclid', 'fermat', 'galois', 'hopper', 'kepler', 'lamarr', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow', 'hamilton', 'knuth'];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function noSuchContainer(input: string): TspodError {
  return new TspodError('no-such-container', `no container with name or ID "${input}" found: no such container`);
}

export function validateName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new TspodError('invalid-argument', `container name "${name}" is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  }
}

function randomName(taken: Set<string>): string {
  for (;;) {
    const n = `${ADJ[randomBytes(1)[0]! % ADJ.length]}_${NOUN[randomBytes(1)[0]! % NOUN.length]}`;
    if (!taken.has(n)) return n;
    const m = `${n}${randomBytes(1)[0]! % 100}`;
    if (!taken.has(m)) return m;
  }
}

export function findContainer(items: ContainerRecord[], input: string): ContainerRecord | undefined {
  const byName = items.find((c) => c.name === input);
  if (byName) return byName;
  const byId = items.find((c) => c.id === input);
  if (byId) return byId;
  if (/^[0-9a-f]{1,64}$/.test(input)) {
    const hits = items.filter((c) => c.id.startsWith(input));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new TspodError('invalid-argument', `more than one result for container "${input}": use more of its ID`);
  }
  return undefined;
}

export function lookupContainer(cs: ContainerStore, input: string): ContainerRecord {
  const c = findContainer(cs.list(), input);
  if (!c) throw noSuchContainer(input);
  return c;
}

export async function createRecord(
  cs: ContainerStore,
  init: { name?: string; imageName: string; imageId: string; config: ContainerConfig },
): Promise<ContainerRecord> {
  if (init.name !== undefined) validateName(init.name);
  const id = randomBytes(32).toString('hex');
  return cs.update((items) => {
    const taken = new Set(items.map((c) => c.name));
    if (init.name !== undefined && taken.has(init.name)) {
      const other = items.find((c) => c.name === init.name)!;
      throw new TspodError(
        'exists',
        `creating container storage: the container name "${init.name}" is already in use by ${other.id}. You have to remove that container to be able to reuse that name: that name is already in use`,
      );
    }
    const rec: ContainerRecord = {
      id,
      name: init.name ?? randomName(taken),
      imageName: init.imageName,
      imageId: init.imageId,
      created: new Date().toISOString(),
      config: init.config,
      state: { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, restartCount: 0 },
    };
    items.push(rec);
    cs.ensureDirs(id);
    return rec;
  });
}

export function exitFile(cs: ContainerStore, id: string): string {
  return join(cs.store.runRoot, 'exits', id);
}

export function readExitCode(cs: ContainerStore, id: string): number | undefined {
  try {
    const n = Number(readFileSync(exitFile(cs, id), 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // A zombie is not alive.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Reconciles a record with reality: a running container whose monitor recorded an exit code has
 * exited; one whose monitor and process are both gone without a word (kill -9 of everything, a
 * reboot of the run dir) has exited with an unknown code. Returns the records that changed.
 */
export async function syncStates(cs: ContainerStore): Promise<ContainerRecord[]> {
  const changes: Array<{ id: string; exitCode: number; finishedAt: string }> = [];
  for (const c of cs.list()) {
    if (c.state.status !== 'running' && c.state.status !== 'paused') continue;
    const code = readExitCode(cs, c.id);
    if (code !== undefined) {
      changes.push({ id: c.id, exitCode: code, finishedAt: finishedAtOf(cs, c.id) });
      continue;
    }
    if (!alive(c.state.monitorPid) && !alive(c.state.pid)) {
      changes.push({ id: c.id, exitCode: -1, finishedAt: new Date().toISOString() });
    }
  }
  if (!changes.length) return cs.list();
  return cs.update((items) => {
    for (const ch of changes) {
      const c = items.find((x) => x.id === ch.id);
      if (!c || (c.state.status !== 'running' && c.state.status !== 'paused')) continue;
      c.state.status = 'exited';
      c.state.exitCode = ch.exitCode;
      c.state.finishedAt = ch.finishedAt;
      c.state.pid = 0;
    }
    return items;
  });
}

function finishedAtOf(cs: ContainerStore, id: string): string {
  try {
    return statSync(exitFile(cs, id)).mtime.toISOString();
  } catch {
    return new Date().toISOString();
  }
}

export async function renameContainer(cs: ContainerStore, input: string, newName: string): Promise<void> {
  validateName(newName);
  await cs.update((items) => {
    const c = findContainer(items, input);
    if (!c) throw noSuchContainer(input);
    if (items.some((x) => x.name === newName && x.id !== c.id)) {
      throw new TspodError('exists', `renaming container ${c.name}: the container name "${newName}" is already in use: that name is already in use`);
    }
    c.name = newName;
  });
}

export function monitorAlive(rec: ContainerRecord): boolean {
  return alive(rec.state.monitorPid);
}
