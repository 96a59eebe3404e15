// Where blobs were pushed: digest -> "registry/repository" entries, newest first. A later push of
// the same blob to another repository of that registry mounts it from there instead of uploading
// it again (podman's blob info cache does the same). A cache only: <graphroot>/cache/
// blob-locations.json, replaced by rename without fsync or lock; a lost update costs an upload.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PER_DIGEST = 8;
const MAX_DIGESTS = 4096;

type Table = Record<string, string[]>;

export class BlobLocations {
  constructor(private readonly file: string) {}

  static forStore(graphRoot: string): BlobLocations {
    return new BlobLocations(join(graphRoot, 'cache', 'blob-locations.json'));
  }

  private load(): Table {
    try {
      const t = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return t && typeof t === 'object' && !Array.isArray(t) ? (t as Table) : {};
    } catch {
      return {};
    }
  }

  /** Repositories of `registry` known to hold `digest`, newest first. */
  repositories(digest: string, registry: string): string[] {
    const list = this.load()[digest];
    if (!Array.isArray(list)) return [];
    const prefix = `${registry}/`;
    return list.filter((e) => typeof e === 'string' && e.startsWith(prefix)).map((e) => e.slice(prefix.length)).filter(Boolean);
  }

  /** Records that `registry/repository` holds each of `digests`. */
  record(digests: string[], registry: string, repository: string): void {
    const t = this.load();
    const loc = `${registry}/${repository}`;
    for (const d of digests) {
      const prev = Array.isArray(t[d]) ? t[d]!.filter((e) => e !== loc) : [];
      delete t[d]; // re-inserted last: object key order is the age order for trimming
      t[d] = [loc, ...prev].slice(0, PER_DIGEST);
    }
    const keys = Object.keys(t);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_DIGESTS))) delete t[k];
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(t), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      /* a cache only */
    }
  }
}
