// Shared by the build steps: a stage's state, the build cache, base images, and committing a
// working container as the stage's next image.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import type { CreateOptions } from '../engine/create.js';
import type { ImageConfigDoc } from '../engine/images.js';
import { readJson, writeFileAtomic } from '../storage/atomic.js';
import type { Instruction, Stage } from './parser.js';
import type { BuildOptions } from './builder.js';
import { commitDiff, writeImage } from './layer.js';

export interface State {
  imageId?: string;
  layers: string[];
  config: ImageConfigDoc;
  /** Declared ARGs and their values. */
  args: Record<string, string | undefined>;
  shell: string[];
  key: string;
  cmdSet: boolean;
}

export const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

// ---- the cache -----------------------------------------------------------------------------

export function cacheFile(engine: Engine): string {
  return join(engine.ctx.graphRoot, 'build-cache.json');
}

export function cacheGet(engine: Engine, key: string): string | undefined {
  const c = readJson<{ version: 1; entries: Record<string, string> }>(cacheFile(engine), { version: 1, entries: {} });
  const id = c.entries[key];
  if (id && engine.store().images().some((i) => i.id === id)) return id;
  return undefined;
}

export async function cachePut(engine: Engine, key: string, id: string): Promise<void> {
  await engine.store().withStoreLock(() => {
    const c = readJson<{ version: 1; entries: Record<string, string> }>(cacheFile(engine), { version: 1, entries: {} });
    c.entries[key] = id;
    const ids = new Set(engine.store().images().map((i) => i.id));
    for (const [k, v] of Object.entries(c.entries)) if (!ids.has(v) && v !== id) delete c.entries[k];
    writeFileAtomic(cacheFile(engine), JSON.stringify(c));
  });
}

export function envMap(cfg: ImageConfigDoc): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of (cfg.config?.Env as string[] | undefined) ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

export function setEnv(cfg: ImageConfigDoc, k: string, v: string): void {
  const list = ((cfg.config!.Env as string[] | undefined) ?? []).filter((e) => !e.startsWith(`${k}=`));
  list.push(`${k}=${v}`);
  cfg.config!.Env = list;
}

export function ctrOptions(image: string, command: string[], env: string[], cwd: string, workdir?: string, user?: string): CreateOptions {
  return {
    image,
    command,
    entrypoint: '',
    env,
    envFile: [],
    envHost: false,
    workdir,
    user,
    tty: false,
    interactive: false,
    labels: [],
    rm: false,
    volumes: [],
    mounts: [],
    tmpfs: [],
    readOnly: false,
    init: false,
    capAdd: [],
    capDrop: [],
    privileged: false,
    securityOpt: [],
    ulimits: [],
    devices: [],
    groupAdd: [],
    pull: 'never',
    logOpt: [],
    logDriver: 'none',
    createCommand: [],
    cwd,
  };
}

export async function baseImage(engine: Engine, o: BuildOptions, name: string, stages: Stage[], stageImages: Array<string | undefined>, ins: Instruction): Promise<string | undefined> {
  if (name === 'scratch') return undefined;
  const idx = stages.findIndex((s) => s.name === name.toLowerCase());
  if (idx >= 0 && idx < stageImages.length) return stageImages[idx];
  if (/^\d+$/.test(name) && Number(name) < stageImages.length) return stageImages[Number(name)];
  if (o.pull !== 'always') {
    try {
      return engine.lookupImage(name).id;
    } catch {
      /* pull it */
    }
  }
  if (o.pull === 'never') throw new TspodError('no-such-image', `${o.file}:${ins.line}: ${ins.cmd}: ${name}: image not known`);
  return (await engine.pull(name, {}, o.onPull)).id;
}

/** Takes a cached image as the stage's state. */
/**
 * A step's cache lookup: on a hit the stage takes over the cached image and the step is done
 * (returns true); with --no-cache, or a miss, the caller runs the step.
 */
export function useCache(engine: Engine, st: State, key: string, noCache: boolean | undefined, say: (s: string) => void): boolean {
  const hit = !noCache ? cacheGet(engine, key) : undefined;
  if (!hit) return false;
  say(`--> Using cache ${hit}`);
  adopt(engine, st, hit);
  say(`--> ${hit.slice(0, 12)}`);
  return true;
}

export function adopt(engine: Engine, st: State, id: string): void {
  st.imageId = id;
  st.layers = [...engine.store().images().find((i) => i.id === id)!.layers];
  st.config = JSON.parse(engine.store().imageConfig(id).toString('utf8')) as ImageConfigDoc;
  st.config.config ??= {};
  st.config.history ??= [];
  st.config.rootfs ??= { type: 'layers', diff_ids: [] };
  st.config.rootfs.diff_ids ??= [];
}

/** Commits a container's upper dir as the stage's next layer and image. */
export async function commitContainer(engine: Engine, st: State, ctrId: string, key: string, createdBy: string): Promise<string> {
  const diffDir = join(engine.containers().dir(ctrId), 'diff');
  const { chain, diffId } = await commitDiff(engine, diffDir, st.layers[st.layers.length - 1]);
  st.layers.push(chain);
  st.config.rootfs!.diff_ids!.push(diffId);
  st.config.created = new Date().toISOString();
  st.config.history!.push({ created: st.config.created, created_by: createdBy });
  const id = await writeImage(engine, st.config, st.layers, [], st.imageId);
  st.imageId = id;
  await cachePut(engine, key, id);
  return id;
}

export async function ensureImage(engine: Engine, st: State): Promise<string> {
  // FROM scratch: an image without layers to create the working container from.
  st.imageId ??= await writeImage(engine, st.config, st.layers, []);
  return st.imageId;
}


export function nopText(text: string): string {
  return `/bin/sh -c #(nop) ${text}`;
}
