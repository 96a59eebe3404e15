// commit: a new image from a container's writable layer. The upper dir (<graphroot>/containers/
// <id>/diff, overlay format) is archived by tar-writer.ts (whiteouts and opaque dirs converted back
// to `.wh.` entries), then stored through tspod-extract like any other layer, on top of the image's
// layers; the config is the image's with --change applied, the new diff ID and a history entry.
import { join } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { TspodError } from '../errors.js';
import { MEDIA_TYPE, layerCompression } from '../image/manifest.js';
import { layerMediaType, writeLayerBlob } from './archive-blob.js';
import { recordImage, storeLayer, synthesizeManifest } from './archive-store.js';
import { applyChanges } from './import.js';
import { normalizeLocalName } from './images.js';
import type { Engine } from './index.js';
import type { ContainerRecord } from '../storage/containers.js';

export interface CommitOptions {
  changes: string[];
  message?: string;
  author?: string;
  pause: boolean;
}

export async function commitContainer(engine: Engine, input: string, reference: string | undefined, opts: CommitOptions): Promise<string> {
  const store = engine.store();
  const c = await engine.lookupContainer(input);
  const image = store.images().find((i) => i.id === c.imageId);
  if (!image) throw new TspodError('no-such-image', `the image of container ${c.id.slice(0, 12)} is gone`);
  const name = reference ? normalizeLocalName(reference) : undefined;
  // vfs containers (src/storage/mount.ts) have a full copy as their "upper" dir: no whiteouts, so
  // deletions would be lost. Refuse rather than produce a wrong image.
  if (existsSync(join(engine.containers().dir(c.id), '.vfs-populated'))) {
    throw new TspodError('unsupported', `committing container ${c.id.slice(0, 12)}: not supported with the vfs storage driver`);
  }
  const paused = opts.pause && c.state.status === 'running';
  if (paused) await engine.pauseContainer(c.id, false);
  const staging = store.newStaging('commit');
  let layer;
  try {
    const blob = await writeLayerBlob(join(engine.containers().dir(c.id), 'diff'), join(staging, 'layer.tar'), 'none');
    const parent = image.layers[image.layers.length - 1];
    layer = await storeLayer(engine, blob.path, parent, blob.diffId, `committing container ${c.id.slice(0, 12)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    if (paused) await engine.pauseContainer(c.id, true);
  }
  const base = JSON.parse(store.imageConfig(image.id).toString('utf8')) as {
    config?: Record<string, unknown>;
    rootfs?: { type?: string; diff_ids?: string[] };
    history?: Array<Record<string, unknown>>;
    [k: string]: unknown;
  };
  const created = new Date().toISOString();
  // As podman: history says FROM <image> unless --message, the author carries over unless --author.
  const author = opts.author ?? (typeof base.author === 'string' ? base.author : undefined);
  const history: Record<string, unknown> = { created, created_by: '/bin/sh', comment: opts.message ?? `FROM ${image.names[0] ?? c.imageName}` };
  if (author) history.author = author;
  const doc: Record<string, unknown> = {
    ...base,
    created,
    config: applyChanges(containerConfig(base.config ?? {}, c), opts.changes),
    rootfs: { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), layer.diffId] },
    history: [...(base.history ?? []), history],
  };
  if (author) doc.author = author;
  else delete doc.author;
  delete doc.container_config;
  delete doc.container;
  const configBytes = Buffer.from(JSON.stringify(doc));
  const layerRecs = store.layers();
  const chains = [...image.layers, layer.chain];
  const descs = chains.map((ch, i) => {
    const l = layerRecs.find((r) => r.id === ch);
    if (i < image.layers.length && l?.compressedDigest && l.compressedSize !== undefined && l.mediaType) {
      try {
        return { digest: l.compressedDigest, size: l.compressedSize, mediaType: layerMediaType(MEDIA_TYPE.ociManifest, layerCompression(l.mediaType)) };
      } catch {
        /* an unknown media type: describe it uncompressed */
      }
    }
    return { digest: l?.diffId ?? layer.diffId, size: l?.size ?? 0, mediaType: MEDIA_TYPE.ociLayer };
  });
  const manifest = synthesizeManifest(configBytes, descs);
  return recordImage(engine, configBytes, { bytes: manifest, mediaType: MEDIA_TYPE.ociManifest }, chains, name ? [name] : [], image.id);
}

/**
 * The image config with the container's own settings folded in, as podman commit does: its
 * command and entrypoint, the environment its process ran with, working dir, user, labels,
 * exposed ports and stop signal.
 */
function containerConfig(base: Record<string, unknown>, c: ContainerRecord): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...base };
  const cc = c.config;
  if (cc.command.length) cfg.Cmd = cc.command;
  if (cc.entrypoint !== undefined) cfg.Entrypoint = cc.entrypoint;
  // The environment the process ran with, minus what the runtime derives per container.
  if (c.resolved?.env?.length) cfg.Env = c.resolved.env.filter((e) => !/^(HOSTNAME|HOME)=/.test(e));
  else if (cc.env.length) {
    const env = [...((base.Env as string[] | undefined) ?? [])];
    for (const e of cc.env) {
      const k = e.split('=')[0];
      const i = env.findIndex((x) => x.split('=')[0] === k);
      if (i === -1) env.push(e);
      else env[i] = e;
    }
    cfg.Env = env;
  }
  if (cc.workdir) cfg.WorkingDir = cc.workdir;
  if (cc.user) cfg.User = cc.user;
  if (Object.keys(cc.labels).length) cfg.Labels = { ...((base.Labels as Record<string, string> | null) ?? {}), ...cc.labels };
  if (cc.exposedPorts?.length) cfg.ExposedPorts = { ...((base.ExposedPorts as Record<string, object> | undefined) ?? {}), ...Object.fromEntries(cc.exposedPorts.map((p) => [p, {}])) };
  if (cc.stopSignal) cfg.StopSignal = cc.stopSignal;
  return cfg;
}
