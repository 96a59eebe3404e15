// Resolving an image name with registries.conf: short names (aliases, unqualified-search registries,
// short-name-mode), [[registry]] prefix matching and rewriting, mirrors, blocked registries.
// Loading and parsing the files lives in registries-conf.ts (re-exported here).

import { TspodError } from '../errors.js';
import {
  type ImageReference,
  type NamedReference,
  formatReference,
  normalizeReference,
  parseReference,
  repositoryName,
} from './reference.js';
import type { Endpoint, RegistriesConf, RegistryEntry } from './registries-conf.js';

export * from './registries-conf.js';

// ---------------------------------------------------------------------------------------------
// Matching and rewriting

/** Length of the match of `prefix` against `ref` (a name or full reference string), or -1. */
export function refMatchingPrefix(ref: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const suffix = prefix.slice(1); // ".example.com"
    const idx = ref.indexOf(suffix);
    if (idx === -1 || ref.slice(0, idx).includes('/')) return -1;
    const end = idx + suffix.length;
    if (end === ref.length) return end;
    return ref[end] === ':' || ref[end] === '/' || ref[end] === '@' ? end : -1;
  }
  if (ref.length < prefix.length) return -1;
  if (ref.length === prefix.length) return ref === prefix ? prefix.length : -1;
  if (!ref.startsWith(prefix)) return -1;
  const c = ref[prefix.length];
  return c === ':' || c === '/' || c === '@' ? prefix.length : -1;
}

/** The [[registry]] entry with the longest prefix matching `name` (registry/repository), if any. */
export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  for (const r of conf.registries) {
    if (refMatchingPrefix(name, r.prefix) !== -1 && (!best || r.prefix.length > best.prefix.length)) best = r;
  }
  return best;
}

/** One place to pull a candidate from: a mirror or the primary location. */
export interface PullSource {
  /** host[:port] to connect to. */
  registry: string;
  /** The repository path on that registry, after prefix rewriting. */
  repository: string;
  /** The rewritten reference (registry, repository, tag, digest). */
  reference: NamedReference;
  insecure: boolean;
  mirror: boolean;
}

/** The sources for a fully-qualified reference, mirrors first. Throws when the registry is blocked. */
export function pullSources(conf: RegistriesConf, ref: NamedReference): PullSource[] {
  const name = repositoryName(ref);
  const reg = findRegistry(conf, name);
  if (!reg) return [{ registry: ref.registry, repository: ref.repository, reference: ref, insecure: false, mirror: false }];
  if (reg.blocked) {
    throw new TspodError('registry', `registry ${reg.prefix} is blocked in ${conf.description}`);
  }
  const digested = ref.digest !== undefined;
  const endpoints: Array<Endpoint & { mirror: boolean }> = [];
  for (const m of reg.mirrors) {
    if (reg.mirrorByDigestOnly && !digested) continue;
    if (m.pullFromMirror === 'digest-only' && !digested) continue;
    if (m.pullFromMirror === 'tag-only' && digested) continue;
    endpoints.push({ ...m, mirror: true });
  }
  endpoints.push({ location: reg.location, insecure: reg.insecure, mirror: false });
  const full = formatReference(ref);
  const prefixLen = refMatchingPrefix(full, reg.prefix);
  return endpoints.map((ep) => {
    let rewritten: NamedReference;
    if (ep.location === '') {
      rewritten = ref;
    } else {
      const s = ep.location + full.slice(prefixLen);
      let parsed: ImageReference;
      try {
        parsed = parseReference(s);
      } catch (e) {
        throw new TspodError('config', `rewriting reference ${full} with ${ep.location}: ${(e as Error).message}`);
      }
      if (parsed.registry === undefined) {
        throw new TspodError('config', `rewriting reference ${full} with ${ep.location}: ${s} has no registry`);
      }
      rewritten = parsed as NamedReference;
    }
    return { registry: rewritten.registry, repository: rewritten.repository, reference: rewritten, insecure: ep.insecure, mirror: ep.mirror };
  });
}

/** Whether registries.conf marks a registry host[:port] insecure (for push, login, search). */
export function isInsecureRegistry(conf: RegistriesConf, registry: string): boolean {
  return findRegistry(conf, registry)?.insecure ?? false;
}

export interface PullCandidate {
  /** The normalised reference: what the image is called locally once pulled. */
  reference: NamedReference;
  /** formatReference(reference). */
  name: string;
  /** Where to fetch it, in order. Empty when `error` is set. */
  sources: PullSource[];
  /** Set when this candidate cannot be pulled (blocked registry). */
  error?: TspodError;
}

export interface ResolvedName {
  candidates: PullCandidate[];
  /** How a short name was resolved, to print before pulling (podman's "Resolved ... as an alias"). */
  description?: string;
}

/**
 * Resolves what the user typed into pull candidates, as podman does without a TTY: a qualified name
 * is one candidate; a short name uses its alias if any, else one candidate per unqualified-search
 * registry (refused in enforcing mode when there are several, since tspod never prompts).
 */
export function resolveImageName(conf: RegistriesConf, input: string): ResolvedName {
  const ref = parseReference(input);
  const withSources = (named: NamedReference): PullCandidate => {
    const c: PullCandidate = { reference: named, name: formatReference(named), sources: [] };
    try {
      c.sources = pullSources(conf, named);
    } catch (e) {
      if (!(e instanceof TspodError)) throw e;
      c.error = e;
    }
    return c;
  };
  const finish = (r: ResolvedName): ResolvedName => {
    const ok = r.candidates.filter((c) => !c.error);
    if (ok.length === 0 && r.candidates[0]?.error) throw r.candidates[0].error;
    return r;
  };

  if (ref.registry !== undefined) return finish({ candidates: [withSources(normalizeReference(ref))] });

  const shortName = ref.repository;
  const alias = conf.aliases.get(shortName);
  if (alias?.value) {
    const named: NamedReference = { registry: alias.value.registry, repository: alias.value.repository };
    if (ref.tag !== undefined) named.tag = ref.tag;
    if (ref.digest !== undefined) named.digest = ref.digest;
    return finish({
      candidates: [withSources(normalizeReference(named))],
      description: `Resolved "${shortName}" as an alias (${alias.origin})`,
    });
  }

  const usr = conf.unqualifiedSearchRegistries;
  if (usr.length === 0) {
    const where = conf.searchOrigin ?? (conf.files.length > 0 ? conf.files[0] : undefined);
    throw new TspodError(
      'invalid-argument',
      where
        ? `short-name "${input}" did not resolve to an alias and no unqualified-search registries are defined in "${where}"`
        : `short-name "${input}" did not resolve to an alias and no containers-registries.conf(5) was found`,
    );
  }
  const candidates = usr.map((reg) => {
    let named: NamedReference;
    try {
      named = normalizeReference(`${reg}/${input}`);
    } catch (e) {
      throw new TspodError('invalid-argument', `creating reference with unqualified-search registry "${reg}": ${(e as Error).message}`);
    }
    return withSources(named);
  });
  if (candidates.length > 1 && conf.shortNameMode === 'enforcing') {
    throw new TspodError('invalid-argument', 'short-name resolution enforced but cannot prompt without a TTY');
  }
  return finish({
    candidates,
    description: `Resolving "${shortName}" using unqualified-search registries (${conf.searchOrigin ?? conf.description})`,
  });
}
