// Image references: the grammar of distribution/reference, Docker Hub normalisation, digests.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component [ "/" path-component ]*
//
// Whether the first component is a registry follows containers/image (what podman uses): it is one
// when it contains "." or ":" or is "localhost". Everything else is a short name.

import { TspodError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainRe = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tagRe = '[\\w][\\w.-]{0,127}';
const digestRe = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const pathRe = `${pathComponent}(?:/${pathComponent})*`;

const ANCHORED_REFERENCE = new RegExp(`^(?:(${domainRe})/)?(${pathRe})(?::(${tagRe}))?(?:@(${digestRe}))?$`);
const ANCHORED_PATH = new RegExp(`^${pathRe}$`);
const ANCHORED_DOMAIN = new RegExp(`^${domainRe}$`);
const ANCHORED_TAG = new RegExp(`^${tagRe}$`);
const ANCHORED_DIGEST = new RegExp(`^${digestRe}$`);
const ANCHORED_IDENTIFIER = /^[a-f0-9]{64}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const SHA512_DIGEST = /^sha512:[a-f0-9]{128}$/;

/** A parsed reference. `registry` is absent for short names ("alpine", "user/app"). */
export interface ImageReference {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** A fully-qualified reference: what an image is called locally (docker.io/library/alpine:latest). */
export interface NamedReference extends ImageReference {
  registry: string;
}

function invalid(detail?: string): TspodError {
  return new TspodError('invalid-argument', detail ? `invalid reference format: ${detail}` : 'invalid reference format');
}

/** True when `component` (the text before the first "/") names a registry rather than a namespace. */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Parses `s` without applying Docker Hub defaults: `alpine:3` → {repository: "alpine", tag: "3"};
 * `localhost:5000/a/b@sha256:…` → {registry: "localhost:5000", repository: "a/b", digest}.
 */
export function parseReference(s: string): ImageReference {
  if (typeof s !== 'string' || s === '') throw invalid('repository name must have at least one component');
  if (ANCHORED_IDENTIFIER.test(s)) {
    throw new TspodError('invalid-argument', `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const m = ANCHORED_REFERENCE.exec(s);
  if (!m) {
    // Say why when the only problem is case, as distribution/reference does.
    const lowered = ANCHORED_REFERENCE.exec(lowerName(s));
    if (lowered) throw invalid('repository name must be lowercase');
    throw invalid();
  }
  const domain = m[1];
  const path = m[2]!;
  const tag = m[3];
  const digest = m[4];
  const name = domain !== undefined ? `${domain}/${path}` : path;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  let registry: string | undefined;
  let repository = path;
  if (domain !== undefined && looksLikeRegistry(domain)) {
    registry = domain;
  } else if (domain !== undefined) {
    // "user/app": the grammar allowed "user" as a domain, but it is a namespace.
    repository = name;
    // e.g. "Foo/bar": "Foo" is a valid domain but not a registry, and not a valid path component.
    if (!ANCHORED_PATH.test(repository)) throw invalid('repository name must be lowercase');
  }
  if (digest !== undefined) validateDigestGrammar(digest);
  const ref: ImageReference = { repository };
  if (registry !== undefined) ref.registry = registry;
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Lower-cases the name part only (tags may legitimately contain upper case). */
function lowerName(s: string): string {
  const at = s.indexOf('@');
  const beforeDigest = at === -1 ? s : s.slice(0, at);
  const rest = at === -1 ? '' : s.slice(at);
  const lastSlash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.lastIndexOf(':');
  const nameEnd = colon > lastSlash ? colon : beforeDigest.length;
  return beforeDigest.slice(0, nameEnd).toLowerCase() + beforeDigest.slice(nameEnd) + rest;
}

/** True when `s` has no registry part ("alpine", "library/alpine:3", "user/app@sha256:…"). */
export function isShortName(s: string): boolean {
  return parseReference(s).registry === undefined;
}

/**
 * Applies the Docker Hub defaults to a reference: no registry → docker.io, a single-component
 * docker.io name → library/…, index.docker.io → docker.io. With `defaultTag` (the default), a
 * reference with neither tag nor digest gets ":latest".
 */
export function normalizeReference(input: string | ImageReference, opts: { defaultTag?: boolean } = {}): NamedReference {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  let registry = ref.registry ?? DEFAULT_REGISTRY;
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  let repository = ref.repository;
  if (repository !== repository.toLowerCase()) throw invalid(`repository name (${repository}) must be lowercase`);
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `${OFFICIAL_NAMESPACE}/${repository}`;
  if (!ANCHORED_DOMAIN.test(registry) || !ANCHORED_PATH.test(repository)) throw invalid();
  if (registry.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const out: NamedReference = { registry, repository };
  if (ref.tag !== undefined) {
    if (!ANCHORED_TAG.test(ref.tag)) throw invalid();
    out.tag = ref.tag;
  }
  if (ref.digest !== undefined) {
    validateDigestGrammar(ref.digest);
    out.digest = ref.digest;
  }
  if ((opts.defaultTag ?? true) && out.tag === undefined && out.digest === undefined) out.tag = DEFAULT_TAG;
  return out;
}

/** `registry/repository[:tag][@digest]`, or without the registry for a short name. */
export function formatReference(ref: ImageReference): string {
  let s = ref.registry !== undefined ? `${ref.registry}/${ref.repository}` : ref.repository;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The repository name without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return ref.registry !== undefined ? `${ref.registry}/${ref.repository}` : ref.repository;
}

/**
 * The name shown to users. Podman shows full names (docker.io/library/alpine); with
 * `{ docker: true }` the Docker CLI's familiar form is returned (alpine, user/app).
 */
export function familiarName(ref: ImageReference, opts: { docker?: boolean } = {}): string {
  const named = normalizeReference(ref, { defaultTag: false });
  if (!opts.docker || named.registry !== DEFAULT_REGISTRY) return repositoryName(named);
  const repo = named.repository;
  return repo.startsWith(`${OFFICIAL_NAMESPACE}/`) && repo.split('/').length === 2 ? repo.slice(OFFICIAL_NAMESPACE.length + 1) : repo;
}

/** Whether `s` is a valid tag. */
export function isValidTag(s: string): boolean {
  return ANCHORED_TAG.test(s);
}

/** Whether `s` is a valid repository path (library/alpine, a/b/c). */
export function isValidRepositoryPath(s: string): boolean {
  return s.length <= NAME_TOTAL_LENGTH_MAX && ANCHORED_PATH.test(s);
}

/** Whether `s` is a valid registry host[:port]. */
export function isValidRegistry(s: string): boolean {
  return ANCHORED_DOMAIN.test(s);
}

function validateDigestGrammar(d: string): void {
  if (!ANCHORED_DIGEST.test(d)) throw new TspodError('invalid-argument', `invalid reference format: invalid digest format "${d}"`);
}

/** Cheap check: `sha256:` + 64 lower-case hex. */
export function isSha256Digest(s: unknown): s is string {
  return typeof s === 'string' && SHA256_DIGEST.test(s);
}

/**
 * Validates a digest string before it touches a URL or a path. Only sha256 is verified by tspod;
 * sha512 (valid per the image spec) and other algorithms are refused as unsupported.
 * `code` lets a caller that read the digest from a registry report hostile content instead.
 */
export function validateDigest(s: unknown, code: 'invalid-argument' | 'hostile-content' = 'invalid-argument'): string {
  if (typeof s !== 'string') throw new TspodError(code, `invalid digest: ${JSON.stringify(s)}`);
  if (SHA256_DIGEST.test(s)) return s;
  if (SHA512_DIGEST.test(s)) throw new TspodError('unsupported', `unsupported digest algorithm: sha512 (${s})`);
  if (ANCHORED_DIGEST.test(s) && !s.startsWith('sha256:') && !s.startsWith('sha512:')) {
    throw new TspodError('unsupported', `unsupported digest algorithm: ${s.slice(0, s.indexOf(':'))}`);
  }
  throw new TspodError(code, `invalid digest format: ${JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s)}`);
}
