// `image inspect` and `image history` data, shaped like Podman's output.
import type { Store } from '../storage/store.js';
import { GoTime } from '../format/gotime.js';
import { readConfig, splitName, type ImageConfigDoc } from './images.js';
import type { ImageRecord } from '../storage/store.js';

export interface ImageInspect {
  Id: string;
  Digest: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: GoTime;
  Config: Record<string, unknown>;
  Version: string;
  Author: string;
  Architecture: string;
  Os: string;
  Variant?: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Labels: Record<string, string> | null;
  Annotations: Record<string, string>;
  ManifestType: string;
  User: string;
  History: Array<Record<string, unknown>>;
  NamesHistory: string[];
}

function repoDigests(rec: ImageRecord): string[] {
  const out = new Set<string>(rec.repoDigests);
  for (const n of rec.names) for (const d of rec.digests) out.add(`${splitName(n)[0]}@${d}`);
  return [...out];
}

export function inspectImage(store: Store, rec: ImageRecord, driver = 'overlay'): ImageInspect {
  const cfg: ImageConfigDoc = readConfig(store, rec.id);
  const layerDirs = rec.layers.map((l) => store.layerDiffDir(l)).reverse();
  const data: Record<string, string> = {};
  if (layerDirs.length) {
    data.UpperDir = layerDirs[0]!;
    data.WorkDir = layerDirs[0]!.replace(/\/diff$/, '/work');
    if (layerDirs.length > 1) data.LowerDir = layerDirs.slice(1).join(':');
  }
  let annotations: Record<string, string> = {};
  try {
    const m = JSON.parse(store.imageManifest(rec.id).toString('utf8')) as { annotations?: Record<string, string> };
    annotations = m.annotations ?? {};
  } catch {
    /* no manifest stored */
  }
  const out: ImageInspect = {
    Id: rec.id,
    Digest: rec.digest,
    RepoTags: [...rec.names],
    RepoDigests: repoDigests(rec),
    Parent: rec.parent ?? '',
    Comment: cfg.comment ?? '',
    Created: new GoTime(rec.created),
    Config: cfg.config ?? {},
    Version: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    Architecture: cfg.architecture ?? '',
    Os: cfg.os ?? '',
    Size: rec.size,
    VirtualSize: rec.size,
    GraphDriver: { Name: driver, Data: data },
    RootFS: { Type: cfg.rootfs?.type ?? 'layers', Layers: cfg.rootfs?.diff_ids ?? [] },
    Labels: cfg.config?.Labels ?? null,
    Annotations: annotations,
    ManifestType: rec.manifestMediaType,
    User: cfg.config?.User ?? '',
    History: (cfg.history ?? []).map((h) => ({ ...h })),
    NamesHistory: rec.namesHistory ?? [],
  };
  if (cfg.variant) out.Variant = cfg.variant;
  return out;
}

export interface HistoryEntry {
  id: string;
  created: string;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[] | null;
}

/** Newest first, like podman: the top entry carries the image ID, older ones `<missing>`. */
export function imageHistory(store: Store, rec: ImageRecord): HistoryEntry[] {
  const cfg = readConfig(store, rec.id);
  const layers = store.layers();
  const sizes = rec.layers.map((id) => layers.find((l) => l.id === id)?.size ?? 0);
  const hist = cfg.history?.length
    ? cfg.history
    : rec.layers.map(() => ({ created: cfg.created, created_by: '', empty_layer: false, comment: '' }));
  let layerIdx = 0;
  const entries: HistoryEntry[] = hist.map((h) => {
    const size = h.empty_layer ? 0 : (sizes[layerIdx++] ?? 0);
    return {
      id: '<missing>',
      created: h.created ?? cfg.created ?? rec.created,
      createdBy: h.created_by ?? '',
      size,
      comment: h.comment ?? '',
      tags: null,
    };
  });
  entries.reverse();
  if (entries.length) {
    entries[0]!.id = rec.id;
    entries[0]!.tags = rec.names.length ? [...rec.names] : null;
  }
  return entries;
}
