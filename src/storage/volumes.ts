// Named volumes (podman's "local" driver): records in <graphroot>/volumes.json, data in
// <graphroot>/volumes/<name>/_data.
//
// Crash consistency (security.md): every change happens under the store lock, and
// - create makes the directory first, then writes the record: a crash in between leaves a
//   directory without a record;
// - remove deletes the record first, then moves the directory into tmp/ (renamed away under the
//   lock, so the name is free at once) and deletes it there, outside the lock;
// - a directory without a record is garbage. A later create of the same name WIPES it rather than
//   reusing it: the directory may hold the data of a volume the user removed, and a new volume
//   must start empty. gc() removes all such directories; Store.gc() removes what was moved to
//   tmp/ once its owner is dead.
// So a kill -9 at any instant leaves either the old or the new state plus garbage that the next
// create, prune or gc removes.
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '../util/random.js';
import { readJson, writeFileAtomic } from './atomic.js';
import { currentOwnerToken } from './lock.js';
import type { Store } from './store.js';

export interface VolumeRecord {
  name: string;
  driver: 'local';
  labels: Record<string, string>;
  options: Record<string, string>;
  /** RFC 3339 (toISOString). */
  created: string;
  /** Created for a container's `-v /path` or an image VOLUME, not by name. */
  anonymous: boolean;
  /** The first container that mounted it has copied up and chowned its data (podman's NeedsCopyUp/NeedsChown false). */
  chowned?: boolean;
}

interface Index {
  version: 1;
  items: VolumeRecord[];
}

/** What create does when the name is taken: return the existing record, or report the clash. */
export type CreateResult = { record: VolumeRecord; created: boolean };

export class VolumeStore {
  constructor(readonly store: Store) {}

  private get indexFile(): string {
    return join(this.store.graphRoot, 'volumes.json');
  }

  /** <graphroot>/volumes (0700, like podman: volume contents may carry setuid files). */
  get root(): string {
    return join(this.store.graphRoot, 'volumes');
  }

  /** <graphroot>/volumes/<name>. Callers pass validated names only (engine/volumes.ts). */
  volumeDir(name: string): string {
    return join(this.root, name);
  }

  /** The mountpoint: <graphroot>/volumes/<name>/_data. */
  dataDir(name: string): string {
    return join(this.root, name, '_data');
  }

  /** All records, sorted by name (podman lists volumes in name order). */
  list(): VolumeRecord[] {
    return [...readJson<Index>(this.indexFile, { version: 1, items: [] }).items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): VolumeRecord | undefined {
    return this.list().find((v) => v.name === name);
  }

  /**
   * Creates the directory, then the record, both under the store lock. If the name is taken,
   * returns the existing record with created=false (the caller decides whether that is an error).
   * An orphan directory of the same name is wiped first.
   */
  create(rec: VolumeRecord): Promise<CreateResult> {
    return this.store.withStoreLock(() => {
      const items = this.list();
      const existing = items.find((v) => v.name === rec.name);
      if (existing) return { record: existing, created: false };
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
      const dir = this.volumeDir(rec.name);
      rmSync(dir, { recursive: true, force: true }); // orphan of a crash or an interrupted rm
      mkdirSync(dir, { mode: 0o700 });
      mkdirSync(join(dir, '_data'), { mode: 0o755 });
      chmodSync(join(dir, '_data'), 0o755); // not subject to the umask
      items.push(rec);
      this.write(items);
      return { record: rec, created: true };
    });
  }

  /**
   * Runs fn (copy-up, chown) on the data dir of a volume no container has mounted yet, once, under
   * the store lock; then the record is marked. A volume that is gone or already used is left alone.
   */
  async firstUse(name: string, fn: (dataDir: string) => void | Promise<void>): Promise<void> {
    const cur = this.get(name);
    if (!cur || cur.chowned) return; // the usual case, without the lock
    await this.store.withStoreLock(async () => {
      const items = this.list();
      const rec = items.find((v) => v.name === name);
      if (!rec || rec.chowned) return;
      await fn(this.dataDir(name));
      rec.chowned = true;
      this.write(items);
    });
  }

  /**
   * Removes the record, then the directory. `check` runs under the lock with the record (throw
   * to refuse, e.g. when the volume is in use). Returns the removed record, or undefined when
   * there was none.
   */
  async remove(name: string, check?: (rec: VolumeRecord) => void): Promise<VolumeRecord | undefined> {
    let trash: string | undefined;
    const removed = await this.store.withStoreLock(() => {
      const items = this.list();
      const rec = items.find((v) => v.name === name);
      if (!rec) return undefined;
      check?.(rec);
      this.write(items.filter((v) => v.name !== name));
      trash = this.moveToTrash(name);
      return rec;
    });
    if (trash) rmQuietly(trash);
    return removed;
  }

  /** Removes directories under volumes/ that have no record. Returns how many. */
  async gc(): Promise<number> {
    const trash: string[] = [];
    let n = 0;
    await this.store.withStoreLock(() => {
      const known = new Set(this.list().map((v) => v.name));
      for (const d of safeReaddir(this.root)) {
        if (known.has(d)) continue;
        const t = this.moveToTrash(d);
        if (t) trash.push(t);
        n++;
      }
    });
    for (const t of trash) rmQuietly(t);
    return n;
  }

  private write(items: VolumeRecord[]): void {
    writeFileAtomic(this.indexFile, JSON.stringify({ version: 1, items } satisfies Index));
  }

  /**
   * Renames <volumes>/<name> into tmp/ with an owner token, so the name is free at once and
   * Store.gc() finishes the deletion if we die. Caller holds the store lock. Falls back to
   * deleting in place if the rename is impossible.
   */
  private moveToTrash(name: string): string | undefined {
    const dir = this.volumeDir(name);
    const trash = join(this.store.graphRoot, 'tmp', `volume-rm-${randomBytes(8).toString('hex')}`);
    try {
      writeFileSync(join(dir, '.owner'), currentOwnerToken());
      renameSync(dir, trash);
      return trash;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no directory: nothing to do
      rmQuietly(dir);
      return undefined;
    }
  }
}

function rmQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    /* left for Store.gc() */
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
