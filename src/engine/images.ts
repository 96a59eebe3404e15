// Local image verbs: lookup, list, tag, untag, remove, prune, history, inspect.
import { TspodError } from '../errors.js';
import { formatReference, normalizeReference, parseReference, type ImageReference } from '../image/reference.js';
import { claimName, type ImageRecord, type Store } from '../storage/store.js';

export interface ImageConfigDoc {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: Record<string, unknown> & { Labels?: Record<string, string> | null; User?: string };
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string; author?: string }>;
  docker_version?: string;
  comment?: string;
}

const ID_PREFIX = /^(?:sha256:)?([0-9a-f]{3,64})$/;

export function noSuchImage(input: string): TspodError {
  return new TspodError('no-such-image', `${input}: image not known`);
}

/** Splits a stored name into repository and tag: docker.io/library/alpine:3.15 → [docker.io/library/alpine, 3.15]. */
export function splitName(name: string): [string, string] {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return [name.slice(0, colon), name.slice(colon + 1)];
  return [name, 'latest'];
}

/**
 * The fully qualified names a user's input could mean, most specific first. Short names are tried
 * as localhost/NAME, then with each unqualified-search registry (docker.io normalisation included).
 */
export function candidateNames(ref: ImageReference, searchRegistries: string[]): string[] {
  const tag = ref.tag ?? (ref.digest ? undefined : 'latest');
  const withTag = (r: ImageReference): string => formatReference({ ...r, tag, digest: undefined });
  if (ref.registry !== undefined) return [withTag(normalizeReference({ ...ref, tag, digest: undefined }, { defaultTag: false }))];
  const out = [withTag({ registry: 'localhost', repository: ref.repository })];
  for (const reg of searchRegistries.length ? searchRegistries : ['docker.io']) {
    try {
      out.push(withTag(normalizeReference({ registry: reg, repository: ref.repository, tag }, { defaultTag: false })));
    } catch {
      /* a registry that cannot host this name */
    }
  }
  return [...new Set(out)];
}

export function lookupImage(store: Store, input: string, searchRegistries: string[] = ['docker.io']): ImageRecord {
  const found = findImage(store.images(), input, searchRegistries);
  if (!found) throw noSuchImage(input);
  return found;
}

export function findImage(images: ImageRecord[], input: string, searchRegistries: string[]): ImageRecord | undefined {
  const idm = ID_PREFIX.exec(input);
  if (idm) {
    const hits = images.filter((i) => i.id.startsWith(idm[1]!));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new TspodError('invalid-argument', `short ID ${input} is ambiguous: ${hits.length} images match`, {
        hint: 'Use more characters of the image ID',
      });
    }
  }
  let ref: ImageReference;
  try {
    ref = parseReference(input);
  } catch (e) {
    if (idm) return undefined;
    throw e;
  }
  if (ref.digest) {
    const repo = ref.registry ? formatReference(normalizeReference({ registry: ref.registry, repository: ref.repository }, { defaultTag: false })) : undefined;
    return images.find(
      (i) =>
        i.digests.includes(ref.digest!) &&
        (repo === undefined ? i.names.concat(i.repoDigests).some((n) => matchesShortRepo(n.split('@')[0]!, ref.repository)) || i.names.length === 0 : i.names.concat(i.repoDigests).some((n) => splitRepo(n) === repo)),
    );
  }
  for (const name of candidateNames(ref, searchRegistries)) {
    const hit = images.find((i) => i.names.includes(name));
    if (hit) return hit;
  }
  if (ref.registry === undefined) {
    // Podman also finds a short name under any registry, by path suffix (quay.io/x/alpine for "alpine").
    const tag = ref.tag ?? 'latest';
    const hits = images.filter((i) =>
      i.names.some((n) => {
        const [repo, t] = splitName(n);
        return t === tag && matchesShortRepo(repo, ref.repository);
      }),
    );
    if (hits.length >= 1) return hits[0];
  }
  return undefined;
}

function splitRepo(nameOrDigestRef: string): string {
  const at = nameOrDigestRef.indexOf('@');
  if (at !== -1) return nameOrDigestRef.slice(0, at);
  return splitName(nameOrDigestRef)[0];
}

function matchesShortRepo(fullRepo: string, shortRepo: string): boolean {
  return fullRepo === shortRepo || fullRepo.endsWith(`/${shortRepo}`);
}

/** A local name for `tag`: short names become localhost/NAME (as podman does), tag defaults to latest. */
export function normalizeLocalName(input: string): string {
  const ref = parseReference(input);
  if (ref.digest) throw new TspodError('invalid-argument', `${input}: a tag cannot contain a digest`);
  const named = ref.registry === undefined ? { ...ref, registry: 'localhost' } : normalizeReference(ref, { defaultTag: false });
  return formatReference({ ...named, tag: ref.tag ?? 'latest' });
}

export async function tagImage(store: Store, input: string, newNames: string[], search: string[]): Promise<void> {
  const normalized = newNames.map(normalizeLocalName);
  const img = lookupImage(store, input, search);
  await store.updateImages((items) => {
    for (const name of normalized) {
      claimName(items, img.id, name);
      const rec = items.find((i) => i.id === img.id);
      if (!rec) throw noSuchImage(input);
      if (!rec.names.includes(name)) rec.names.push(name);
      const [repo] = splitName(name);
      for (const d of rec.digests) {
        const rd = `${repo}@${d}`;
        if (!rec.repoDigests.includes(rd)) rec.repoDigests.push(rd);
      }
    }
  });
}

export async function untagImage(store: Store, input: string, names: string[], search: string[]): Promise<string[]> {
  const img = lookupImage(store, input, search);
  const removed: string[] = [];
  await store.updateImages((items) => {
    const rec = items.find((i) => i.id === img.id);
    if (!rec) throw noSuchImage(input);
    const targets = names.length
      ? names.map((n) => {
          const cands = candidateNames(parseReference(n), search);
          const hit = cands.find((c) => rec.names.includes(c)) ?? rec.names.find((x) => matchesShortRepo(splitName(x)[0], splitName(n)[0]) && splitName(x)[1] === splitName(n)[1]);
          if (!hit) throw new TspodError('no-such-image', `${n}: tag not known`);
          return hit;
        })
      : [...rec.names];
    for (const t of targets) {
      rec.names = rec.names.filter((n) => n !== t);
      rec.namesHistory = [t, ...(rec.namesHistory ?? []).filter((n) => n !== t)];
      removed.push(t);
    }
    rec.repoDigests = rec.repoDigests.filter((rd) => rec.names.some((n) => splitName(n)[0] === rd.split('@')[0]));
  });
  return removed;
}

export interface RemoveReport {
  untagged: string[];
  deleted: string[];
  errors: TspodError[];
}

/**
 * rmi semantics (podman): removing by a name that is one of several only untags it; removing by ID
 * (or the last name, or with -f) deletes the image. Images used by containers are refused unless
 * forced; `inUse` tells which image IDs containers use.
 */
export async function removeImages(
  store: Store,
  inputs: string[],
  opts: { force: boolean; all: boolean; search: string[]; inUse?: (id: string) => string[] },
): Promise<RemoveReport> {
  const report: RemoveReport = { untagged: [], deleted: [], errors: [] };
  const targets: Array<{ input: string; id: string; byName?: string }> = [];
  if (opts.all) {
    for (const i of store.images()) targets.push({ input: i.id, id: i.id });
  }
  for (const input of inputs) {
    let img: ImageRecord;
    try {
      img = lookupImage(store, input, opts.search);
    } catch (e) {
      report.errors.push(e as TspodError);
      continue;
    }
    const isId = ID_PREFIX.test(input) && img.id.startsWith(input.replace(/^sha256:/, ''));
    let byName: string | undefined;
    if (!isId) {
      const ref = parseReference(input);
      byName = candidateNames(ref, opts.search).find((c) => img.names.includes(c)) ?? img.names.find((n) => matchesShortRepo(splitName(n)[0], ref.repository));
    }
    targets.push({ input, id: img.id, byName });
  }
  for (const t of targets) {
    const users = opts.inUse?.(t.id) ?? [];
    const deleted = await store.updateImages((items) => {
      const rec = items.find((i) => i.id === t.id);
      if (!rec) return false; // removed by an earlier target
      if (!t.byName && rec.names.length > 1 && !opts.force && !opts.all) {
        report.errors.push(
          new TspodError(
            'invalid-argument',
            `unable to delete image "${rec.id}" by ID with more than one tag ([${rec.names.join(' ')}]): please force removal`,
          ),
        );
        return false;
      }
      if (t.byName && rec.names.length > 1 && !opts.force) {
        rec.names = rec.names.filter((n) => n !== t.byName);
        rec.repoDigests = rec.repoDigests.filter((rd) => rec.names.some((n) => splitName(n)[0] === rd.split('@')[0]));
        report.untagged.push(t.byName);
        return false;
      }
      if (users.length && !opts.force) {
        report.errors.push(
          new TspodError('image-in-use', `image used by ${users.join(', ')}: image is in use by a container: consider listing external containers and force-removing image`),
        );
        return false;
      }
      report.untagged.push(...rec.names);
      items.splice(items.indexOf(rec), 1);
      return true;
    });
    if (deleted) report.deleted.push(t.id);
  }
  if (report.deleted.length) {
    await store.removeUnreferencedLayers();
    await store.gc();
  }
  return report;
}

export interface ImageSummary {
  id: string;
  names: string[];
  digest: string;
  digests: string[];
  repoDigests: string[];
  created: string;
  size: number;
  labels: Record<string, string> | null;
  dangling: boolean;
  config: ImageConfigDoc;
  record: ImageRecord;
}

export function readConfig(store: Store, id: string): ImageConfigDoc {
  try {
    return JSON.parse(store.imageConfig(id).toString('utf8')) as ImageConfigDoc;
  } catch (e) {
    throw new TspodError('storage', `reading the configuration of image ${id.slice(0, 12)}: ${(e as Error).message}`, {
      hint: `Remove it with 'tspod rmi -f ${id.slice(0, 12)}' and pull it again`,
    });
  }
}

export function summarize(store: Store, rec: ImageRecord): ImageSummary {
  const config = readConfig(store, rec.id);
  return {
    id: rec.id,
    names: rec.names,
    digest: rec.digest,
    digests: rec.digests,
    repoDigests: rec.repoDigests,
    created: rec.created,
    size: rec.size,
    labels: config.config?.Labels ?? null,
    dangling: rec.names.length === 0,
    config,
    record: rec,
  };
}

export interface ImageFilter {
  key: string;
  value: string;
}

export function parseFilters(filters: string[]): ImageFilter[] {
  return filters.map((f) => {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new TspodError('invalid-argument', `invalid filter "${f}": expected key=value`);
    return { key: f.slice(0, eq), value: f.slice(eq + 1) };
  });
}

/** `images` filters, podman semantics: the same key ORs, different keys AND. */
export function filterImages(list: ImageSummary[], filters: ImageFilter[], all: ImageSummary[]): ImageSummary[] {
  const byKey = new Map<string, string[]>();
  for (const f of filters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.value]);
  return list.filter((img) => {
    for (const [key, values] of byKey) {
      if (!values.some((v) => matchFilter(img, key, v, all))) return false;
    }
    return true;
  });
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function matchFilter(img: ImageSummary, key: string, value: string, all: ImageSummary[]): boolean {
  switch (key) {
    case 'reference': {
      // Podman matches the pattern against the full name, the name without registry, and the repo alone.
      const [pattern, ptag] = value.includes(':') && !value.slice(value.lastIndexOf(':')).includes('/') ? [value.slice(0, value.lastIndexOf(':')), value.slice(value.lastIndexOf(':') + 1)] : [value, undefined];
      const re = globToRegExp(pattern);
      return img.names.some((n) => {
        const [repo, tag] = splitName(n);
        if (ptag !== undefined && !globToRegExp(ptag).test(tag)) return false;
        const parts = repo.split('/');
        for (let i = 0; i < parts.length; i++) if (re.test(parts.slice(i).join('/'))) return true;
        return false;
      });
    }
    case 'dangling':
      return value === 'true' || value === '1' ? img.dangling : !img.dangling;
    case 'label': {
      const eq = value.indexOf('=');
      const labels = img.labels ?? {};
      if (eq === -1) return value in labels;
      return labels[value.slice(0, eq)] === value.slice(eq + 1);
    }
    case 'id':
      return img.id.startsWith(value.replace(/^sha256:/, ''));
    case 'digest':
      return img.digests.includes(value);
    case 'before':
    case 'since': {
      const other = all.find((o) => o.id.startsWith(value) || o.names.some((n) => n === value || n.endsWith(`/${value}`) || splitName(n)[0].endsWith(`/${value}`)));
      if (!other) throw new TspodError('no-such-image', `${value}: image not known`);
      const a = Date.parse(img.created);
      const b = Date.parse(other.created);
      return key === 'before' ? a < b : a > b;
    }
    case 'readonly':
      return value === 'false';
    case 'intermediate':
      return false;
    default:
      throw new TspodError('invalid-argument', `invalid filter "${key}"`, {
        hint: 'Supported filters: reference, dangling, label, id, digest, before, since',
      });
  }
}

export function listImages(store: Store, opts: { all: boolean; filters: string[] }): ImageSummary[] {
  const filters = parseFilters(opts.filters);
  const all = store.images().map((r) => summarize(store, r));
  // Intermediate images (build steps): no name, and another image is built on top of them.
  // podman lists them only with -a.
  const visible = opts.all ? all : all.filter((i) => !(i.dangling && hasChild(i, all)));
  const out = filterImages(visible, filters, all);
  out.sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || a.id.localeCompare(b.id));
  return out;
}

function hasChild(img: ImageSummary, all: ImageSummary[]): boolean {
  return all.some((o) => o.record.parent === img.id);
}

/** Dangling images (no names) are removed; with `all`, every image no container uses. */
export async function pruneImages(store: Store, opts: { all: boolean; filters: string[]; inUse?: (id: string) => string[] }): Promise<string[]> {
  const filters = parseFilters(opts.filters);
  const all = store.images().map((r) => summarize(store, r));
  const victims = filterImages(all, filters, all).filter((i) => (opts.all || i.dangling) && !(opts.inUse?.(i.id).length));
  const ids = new Set(victims.map((v) => v.id));
  if (!ids.size) return [];
  await store.updateImages((items) => {
    for (let i = items.length - 1; i >= 0; i--) if (ids.has(items[i]!.id)) items.splice(i, 1);
  });
  await store.removeUnreferencedLayers();
  await store.gc();
  return [...ids];
}
