// Manifests, indexes and image configs: parse, validate, refuse what is ambiguous or hostile.
// Docker schema 2 and manifest lists, OCI manifests and indexes. Schema 1 is refused.

import { TspodError } from '../errors.js';
import { isSha256Digest, validateDigest } from './reference.js';

export const MEDIA_TYPE = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** What we ask registries for, preferred first. */
export const MANIFEST_ACCEPT: string[] = [
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.dockerManifestList,
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.dockerManifest,
];

export const MAX_JSON_DOCUMENT = 4 << 20;

const MANIFEST_TYPES = new Set<string>([MEDIA_TYPE.dockerManifest, MEDIA_TYPE.ociManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.ociIndex]);
const SCHEMA1_TYPES = new Set<string>([MEDIA_TYPE.dockerSchema1, MEDIA_TYPE.dockerSchema1Signed]);
const CONFIG_TYPES = new Set<string>([MEDIA_TYPE.dockerConfig, MEDIA_TYPE.ociConfig]);

export type Compression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES = new Map<string, Compression>([
  [MEDIA_TYPE.dockerLayerGzip, 'gzip'],
  [MEDIA_TYPE.dockerForeignLayerGzip, 'gzip'],
  [MEDIA_TYPE.ociLayer, 'none'],
  [MEDIA_TYPE.ociLayerGzip, 'gzip'],
  [MEDIA_TYPE.ociLayerZstd, 'zstd'],
  [MEDIA_TYPE.ociLayerNondistributable, 'none'],
  [MEDIA_TYPE.ociLayerNondistributableGzip, 'gzip'],
  [MEDIA_TYPE.ociLayerNondistributableZstd, 'zstd'],
]);

/** The compression of a layer media type; throws 'unsupported' for anything else. */
export function layerCompression(mediaType: string): Compression {
  const c = LAYER_TYPES.get(mediaType);
  if (c === undefined) throw new TspodError('unsupported', `unsupported layer media type ${JSON.stringify(mediaType)}`);
  return c;
}

export function isManifestMediaType(t: string): boolean {
  return MANIFEST_TYPES.has(t);
}

export function isIndexMediaType(t: string): boolean {
  return INDEX_TYPES.has(t);
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest = ImageManifest | ImageIndex;

type Json = Record<string, unknown>;

function hostile(msg: string): TspodError {
  return new TspodError('hostile-content', msg);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Normalises a Content-Type header: no parameters, lower case, trimmed. */
export function cleanContentType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

function parseJson(bytes: Buffer, what: string, max = MAX_JSON_DOCUMENT): unknown {
  if (bytes.length > max) throw hostile(`${what} is too large: ${bytes.length} bytes, more than the ${max} allowed`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw hostile(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) throw hostile(`${what} must be a map of strings`);
  return v as Record<string, string>;
}

function optString(o: Json, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw hostile(`${what}: "${key}" must be a string`);
  return v;
}

/** Validates a descriptor: media type string, digest grammar (sha256 only), non-negative safe size. */
export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw hostile(`${what} is not an object`);
  const mediaType = v.mediaType;
  if (typeof mediaType !== 'string' || mediaType === '') throw hostile(`${what} has no media type`);
  let digest: string;
  try {
    digest = validateDigest(v.digest, 'hostile-content');
  } catch (e) {
    throw new TspodError((e as TspodError).code ?? 'hostile-content', `${what}: ${(e as Error).message}`);
  }
  const size = v.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw hostile(`${what} ${digest} has an invalid size ${JSON.stringify(size)}`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined && v.urls !== null) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) throw hostile(`${what}: "urls" must be an array of strings`);
    d.urls = v.urls as string[];
  }
  const ann = stringMap(v.annotations, `${what} annotations`);
  if (ann) d.annotations = ann;
  const at = optString(v, 'artifactType', what);
  if (at !== undefined) d.artifactType = at;
  if (v.platform !== undefined && v.platform !== null) {
    const p = v.platform;
    if (!isObject(p)) throw hostile(`${what}: "platform" must be an object`);
    const os = optString(p, 'os', `${what} platform`);
    const architecture = optString(p, 'architecture', `${what} platform`);
    if (os === undefined || architecture === undefined) throw hostile(`${what}: platform needs "os" and "architecture"`);
    const plat: Platform = { os, architecture };
    const variant = optString(p, 'variant', `${what} platform`);
    if (variant !== undefined) plat.variant = variant;
    const osv = optString(p, 'os.version', `${what} platform`);
    if (osv !== undefined) plat.osVersion = osv;
    const feats = p['os.features'];
    if (feats !== undefined && feats !== null) {
      if (!Array.isArray(feats) || !feats.every((x) => typeof x === 'string')) throw hostile(`${what}: "os.features" must be strings`);
      plat.osFeatures = feats as string[];
    }
    d.platform = plat;
  }
  return d;
}

/**
 * Parses a manifest or index. `contentType` is the registry's Content-Type (or the media type a
 * descriptor declared). The document's own mediaType, when present, must agree with it; a document
 * readable as both a manifest and an index is refused (CVE-2021-41190).
 */
export function parseManifest(bytes: Buffer, contentType?: string): ParsedManifest {
  const doc = parseJson(bytes, 'manifest');
  if (!isObject(doc)) throw hostile('manifest is not a JSON object');
  const header = cleanContentType(contentType);
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.has(header)) {
    throw new TspodError('unsupported', 'unsupported manifest schema version 1 (Docker image manifest v2 schema 1 is deprecated); the image must be pushed in a newer format');
  }
  if (doc.schemaVersion !== 2) throw hostile(`manifest has unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);

  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw hostile('manifest "mediaType" must be a string');
  const known = (t: string): boolean => MANIFEST_TYPES.has(t) || INDEX_TYPES.has(t);
  let mediaType: string;
  if (declared !== undefined && declared !== '') {
    if (!known(declared)) throw new TspodError('unsupported', `unsupported manifest media type ${JSON.stringify(declared)}`);
    if (known(header) && header !== declared) {
      throw hostile(`manifest media type ${JSON.stringify(declared)} does not match the Content-Type ${JSON.stringify(header)}`);
    }
    mediaType = declared;
  } else if (known(header)) {
    mediaType = header;
    if (mediaType === MEDIA_TYPE.dockerManifest || mediaType === MEDIA_TYPE.dockerManifestList) {
      throw hostile(`manifest of type ${mediaType} has no "mediaType" field`);
    }
  } else {
    throw new TspodError('unsupported', `unsupported manifest media type ${JSON.stringify(header || '(none)')}`);
  }

  const hasManifests = doc.manifests !== undefined;
  const hasLayersOrConfig = doc.layers !== undefined || doc.config !== undefined;
  if (hasManifests && hasLayersOrConfig) {
    throw hostile('manifest is ambiguous: it has both "manifests" and "layers" or "config"');
  }
  const annotations = stringMap(doc.annotations, 'manifest annotations');

  if (INDEX_TYPES.has(mediaType)) {
    if (hasLayersOrConfig) throw hostile(`${mediaType} document has "layers" or "config"`);
    if (!Array.isArray(doc.manifests)) throw hostile(`${mediaType} document has no "manifests" array`);
    const manifests = doc.manifests.map((m, i) => parseDescriptor(m, `manifest list entry ${i}`));
    const idx: ImageIndex = { kind: 'index', mediaType, manifests };
    if (annotations) idx.annotations = annotations;
    return idx;
  }
  if (hasManifests) throw hostile(`${mediaType} document has "manifests"`);
  const config = parseDescriptor(doc.config, 'config descriptor');
  if (!Array.isArray(doc.layers)) throw hostile('manifest has no "layers" array');
  const layers = doc.layers.map((l, i) => parseDescriptor(l, `layer ${i}`));
  const m: ImageManifest = { kind: 'manifest', mediaType, config, layers };
  if (annotations) m.annotations = annotations;
  return m;
}

/**
 * Checks that a manifest describes a container image we can unpack: a known config media type and
 * known layer media types. (Artifacts stored in registries use other config types.)
 */
export function checkImageManifest(m: ImageManifest): void {
  if (!CONFIG_TYPES.has(m.config.mediaType)) {
    throw new TspodError('unsupported', `unsupported image-specific operation on artifact with type ${JSON.stringify(m.config.mediaType)}`);
  }
  for (const l of m.layers) layerCompression(l.mediaType);
  if (m.config.size > MAX_JSON_DOCUMENT) throw hostile(`image config is too large: ${m.config.size} bytes`);
}

// ---------------------------------------------------------------------------------------------
// Image config

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, unknown>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: unknown;
  OnBuild?: string[];
  ArgsEscaped?: boolean;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history: HistoryEntry[];
  /** The parsed document, for fields we do not model (kept for inspect). */
  raw: Json;
}

function optStringArray(o: Json, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw hostile(`${what}: "${key}" must be an array of strings`);
  return v as string[];
}

function optObject(o: Json, key: string, what: string): Json | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw hostile(`${what}: "${key}" must be an object`);
  return v;
}

/**
 * Parses an image config (Docker or OCI). With `layerCount`, the number of diff_ids must match the
 * manifest's layers.
 */
export function parseImageConfig(bytes: Buffer, opts: { layerCount?: number } = {}): ImageConfig {
  const doc = parseJson(bytes, 'image config');
  if (!isObject(doc)) throw hostile('image config is not a JSON object');
  const what = 'image config';
  const architecture = optString(doc, 'architecture', what) ?? '';
  const os = optString(doc, 'os', what) ?? '';
  const rootfs = doc.rootfs;
  if (!isObject(rootfs)) throw hostile('image config has no "rootfs"');
  const diffIds = rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds)) throw hostile('image config: "rootfs.diff_ids" must be an array');
  for (const d of diffIds) {
    if (!isSha256Digest(d)) {
      validateDigest(d, 'hostile-content');
    }
  }
  if (opts.layerCount !== undefined && diffIds.length !== opts.layerCount) {
    throw hostile(`image config has ${diffIds.length} diff IDs but the manifest has ${opts.layerCount} layers`);
  }
  const c = optObject(doc, 'config', what) ?? {};
  const cw = 'image config "config"';
  const config: ContainerConfig = {};
  const s = (k: keyof ContainerConfig): void => {
    const v = optString(c, k, cw);
    if (v !== undefined) (config as Record<string, unknown>)[k] = v;
  };
  const a = (k: keyof ContainerConfig): void => {
    const v = optStringArray(c, k, cw);
    if (v !== undefined) (config as Record<string, unknown>)[k] = v;
  };
  const o = (k: keyof ContainerConfig): void => {
    const v = optObject(c, k, cw);
    if (v !== undefined) (config as Record<string, unknown>)[k] = v;
  };
  s('User');
  s('WorkingDir');
  s('StopSignal');
  a('Env');
  a('Entrypoint');
  a('Cmd');
  a('OnBuild');
  a('Shell');
  o('ExposedPorts');
  o('Volumes');
  const labels = stringMap(c.Labels, `${cw} Labels`);
  if (labels) config.Labels = labels;
  if (c.Healthcheck !== undefined && c.Healthcheck !== null) config.Healthcheck = optObject(c, 'Healthcheck', cw);
  if (typeof c.ArgsEscaped === 'boolean') config.ArgsEscaped = c.ArgsEscaped;

  const historyRaw = doc.history ?? [];
  if (!Array.isArray(historyRaw)) throw hostile('image config: "history" must be an array');
  const history: HistoryEntry[] = historyRaw.map((h, i) => {
    if (!isObject(h)) throw hostile(`image config: history entry ${i} is not an object`);
    const e: HistoryEntry = {};
    const hw = `image config history entry ${i}`;
    for (const k of ['created', 'created_by', 'author', 'comment'] as const) {
      const v = optString(h, k, hw);
      if (v !== undefined) e[k] = v;
    }
    if (h.empty_layer !== undefined && h.empty_layer !== null) {
      if (typeof h.empty_layer !== 'boolean') throw hostile(`${hw}: "empty_layer" must be a boolean`);
      e.empty_layer = h.empty_layer;
    }
    return e;
  });
  const out: ImageConfig = {
    architecture,
    os,
    config,
    rootfs: { type: optString(rootfs, 'type', 'image config rootfs') ?? 'layers', diff_ids: diffIds as string[] },
    history,
    raw: doc,
  };
  const variant = optString(doc, 'variant', what);
  if (variant !== undefined) out.variant = variant;
  const created = optString(doc, 'created', what);
  if (created !== undefined) out.created = created;
  const author = optString(doc, 'author', what);
  if (author !== undefined) out.author = author;
  return out;
}
