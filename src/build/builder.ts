// `build`: runs the stages of a Containerfile. Each stage keeps its state as an image: every
// instruction commits a new image (as podman does with --layers), so the cache maps a key (the exact
// parent image, the instruction, the build args it sees and the content it reads) to an image ID.
// RUN runs in a container created from the current image; COPY/ADD copy into a created (not
// started) container's mounted root; either way the container's upper dir becomes the new layer.
import type { Writable } from 'node:stream';
import { posix } from 'node:path';
import { TspodError, isTspodError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import type { PullEvent } from '../engine/pull.js';
import { normalizeLocalName, type ImageConfigDoc } from '../engine/images.js';
import { keyValues, parseContainerfile, substitute, buildError, type Instruction, type Stage } from './parser.js';
import { loadIgnore, type Ignore } from './context.js';
import { copyStep } from './copy.js';
import { withMountedRootfs } from '../engine/fs.js';
import { missingTargets, parseRunMount, prepareRunMounts, removeMountStubs, type RunMount } from './run-mounts.js';
import { squashImage, writeImage } from './layer.js';
import { baseImage, cachePut, commitContainer, ctrOptions, ensureImage, envMap, setEnv, sha, useCache, type State } from './stage.js';

export interface BuildOptions {
  contextDir: string;
  /** Name for messages (the -f argument). */
  file: string;
  text: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  labels: string[];
  quiet: boolean;
  pull: 'missing' | 'always' | 'never';
  out: Writable;
  err: Writable;
  cwd: string;
  onPull?: (e: PullEvent) => void;
  /** --squash: the build's new layers as one ("new"); --squash-all: one layer in all ("all"). */
  squash?: 'new' | 'all';
  /** --platform: only the host's is accepted. */
  platform?: string;
}

/** The host's platform, as os/arch. */
export function hostPlatform(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  return `linux/${arch}`;
}

/** Refuses a platform other than the host's (`os/arch[/variant]`, a comma-separated list). */
export function checkPlatform(spec: string, what: string): void {
  const host = hostPlatform();
  for (const p of spec.split(',').map((x) => x.trim())) {
    const parts = p.toLowerCase().split('/');
    if (parts.length >= 2 && `${parts[0]}/${parts[1]}` === host && (parts.length === 2 || (parts.length === 3 && (parts[2] === '' || (host.endsWith('/amd64') && parts[2] === 'v1') || (host.endsWith('/arm64') && parts[2] === 'v8'))))) continue;
    throw new TspodError('unsupported', `${what}: platform "${p}" is not supported: tspod builds only for the host platform ${host}`);
  }
}

// ---- helpers -------------------------------------------------------------------------------

/** Go-style durations for HEALTHCHECK flags, in nanoseconds. */
function durationNs(s: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let used = 0;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]!]!;
    used += m[0].length;
  }
  if (used !== s.length || !s) throw new Error(`invalid duration "${s}"`);
  return Math.round(total);
}

// ---- the builder ---------------------------------------------------------------------------

export async function build(engine: Engine, o: BuildOptions): Promise<string> {
  const names = o.tags.map(normalizeLocalName); // a bad name fails before any work
  if (o.platform !== undefined) checkPlatform(o.platform, '--platform');
  const parsed = parseContainerfile(o.text, o.file);
  const file = o.file;
  const ig = loadIgnore(o.contextDir);
  const say = (s: string): void => {
    if (!o.quiet) o.out.write(`${s}\n`);
  };
  // Global ARGs (before the first FROM): usable in FROM lines, and re-declarable in stages.
  const globals: Record<string, string | undefined> = {};
  for (const ins of parsed.globalArgs) declareArgs(ins, globals, {}, o.buildArgs, parsed.escape, file);
  let last = parsed.stages.length - 1;
  if (o.target !== undefined) {
    last = parsed.stages.findIndex((s) => s.name === o.target!.toLowerCase());
    if (last < 0) throw new TspodError('invalid-argument', `the target "${o.target}" was not found in the provided Containerfile`);
  }
  const stageImages: Array<string | undefined> = [];
  const bases: Array<{ id?: string; layers: number; history: number }> = [];
  const multi = last > 0;
  for (let si = 0; si <= last; si++) {
    const stage = parsed.stages[si]!;
    const extra = si === last && o.labels.length ? [labelInstruction(o.labels)] : [];
    stageImages[si] = await runStage(engine, o, parsed.stages, stage, stageImages, globals, ig, parsed.escape, extra, (s) => say(multi ? `[${si + 1}/${last + 1}] ${s}` : s), (b) => (bases[si] = b));
  }
  let id = stageImages[last];
  if (!id) throw new TspodError('invalid-argument', `${file}: a stage FROM scratch with no instructions produces no image`);
  if (o.squash) {
    const keep = o.squash === 'all' ? { id: undefined, layers: 0, history: 0 } : bases[last]!;
    id = await squashImage(engine, id, keep.id, keep.layers, keep.history, `/bin/sh -c #(nop) tspod build --squash${o.squash === 'all' ? '-all' : ''}`, o.cwd);
  }
  if (names.length) {
    say(`COMMIT ${names[0]}`);
    await engine.tagImage(id, names);
  } else say('COMMIT');
  say(`--> ${id.slice(0, 12)}`);
  for (const n of names) say(`Successfully tagged ${n}`);
  return id;
}

function labelInstruction(labels: string[]): Instruction {
  const args = labels.map((l) => (l.includes('=') ? l : `${l}=`)).map((l) => {
    const eq = l.indexOf('=');
    return `${l.slice(0, eq)}=${JSON.stringify(l.slice(eq + 1))}`;
  });
  return { cmd: 'LABEL', flags: {}, flagList: [], args, json: false, raw: args.join(' '), original: `LABEL ${args.join(' ')}`, line: 0, heredocs: [] };
}

function declareArgs(ins: Instruction, into: Record<string, string | undefined>, vars: Record<string, string | undefined>, buildArgs: Record<string, string>, escape: string, file: string): void {
  for (const w of ins.args) {
    const eq = w.indexOf('=');
    const name = eq < 0 ? w : w.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw buildError(file, ins.line, 'ARG', `invalid name "${name}"`);
    let def: string | undefined;
    if (eq >= 0) {
      try {
        def = substitute(w.slice(eq + 1), { ...vars, ...into }, escape);
      } catch (e) {
        throw buildError(file, ins.line, 'ARG', (e as Error).message);
      }
    }
    into[name] = name in buildArgs ? buildArgs[name] : def;
  }
}

async function runStage(
  engine: Engine,
  o: BuildOptions,
  stages: Stage[],
  stage: Stage,
  stageImages: Array<string | undefined>,
  globals: Record<string, string | undefined>,
  ig: Ignore,
  escape: string,
  extra: Instruction[],
  say: (s: string) => void,
  onBase: (b: { id?: string; layers: number; history: number }) => void,
): Promise<string | undefined> {
  const file = o.file;
  const all = [stage.from, ...stage.instructions, ...extra];
  let baseName: string;
  try {
    baseName = substitute(stage.base, globals, escape);
  } catch (e) {
    throw buildError(file, stage.from.line, 'FROM', (e as Error).message);
  }
  say(`STEP 1/${all.length}: ${stage.from.original}`);
  if (stage.from.flags.platform !== undefined) {
    const vars = { ...globals, BUILDPLATFORM: hostPlatform(), TARGETPLATFORM: hostPlatform() };
    let p: string;
    try {
      p = substitute(stage.from.flags.platform, vars, escape);
    } catch (e) {
      throw buildError(file, stage.from.line, 'FROM', (e as Error).message);
    }
    try {
      checkPlatform(p, `${file}:${stage.from.line}: FROM --platform`);
    } catch (e) {
      throw new TspodError('unsupported', (e as Error).message);
    }
  }
  const baseId = await baseImage(engine, o, baseName, stages, stageImages, stage.from);
  const st: State = {
    imageId: baseId,
    layers: baseId ? [...engine.store().images().find((i) => i.id === baseId)!.layers] : [],
    config: baseId
      ? (JSON.parse(engine.store().imageConfig(baseId).toString('utf8')) as ImageConfigDoc)
      : { architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
    args: {},
    shell: ['/bin/sh', '-c'],
    key: sha(`FROM ${baseId ?? 'scratch'}`),
    cmdSet: false,
  };
  st.config.config ??= {};
  st.config.rootfs ??= { type: 'layers', diff_ids: [] };
  st.config.rootfs.diff_ids ??= [];
  st.config.history ??= [];
  onBase({ id: baseId, layers: st.layers.length, history: st.config.history.length });
  const baseShell = st.config.config.Shell as string[] | undefined;
  if (baseShell?.length) st.shell = baseShell;
  // The base image's ONBUILD triggers run first, and are not inherited further.
  const triggers = ((st.config.config.OnBuild as string[] | null | undefined) ?? []).map((t) => {
    let ins: Instruction | undefined;
    try {
      ins = parseContainerfile(`FROM scratch\n${t}\n`, file).stages[0]!.instructions[0];
    } catch (e) {
      throw buildError(file, stage.from.line, 'FROM', `the ONBUILD trigger "${t}" of ${baseName}: ${(e as Error).message}`);
    }
    return { ...ins!, line: stage.from.line };
  });
  if (triggers.length) {
    st.config.config.OnBuild = null;
    st.key = sha(`${st.key}\nONBUILD ${JSON.stringify(triggers.map((t) => t.original))}`);
  }
  for (const ins of triggers) {
    say(`--> Executing ONBUILD ${ins.original}`);
    await runOne(ins);
  }
  for (let n = 1; n < all.length; n++) {
    const ins = all[n]!;
    say(`STEP ${n + 1}/${all.length}: ${ins.original}`);
    await runOne(ins);
  }
  async function runOne(ins: Instruction): Promise<void> {
    try {
      await step(engine, o, st, ins, stages, stageImages, globals, ig, escape, say);
    } catch (e) {
      if (isTspodError(e) && e.message.startsWith(`${file}:`)) throw e;
      const where = ins.line ? `${file}:${ins.line}` : file;
      throw new TspodError(isTspodError(e) ? e.code : 'internal', `${where}: building at STEP "${ins.original}": ${(e as Error).message}`, { cause: e });
    }
  }
  if (!st.imageId && st.layers.length === 0 && all.length > 1) {
    // scratch with only metadata: an image without layers
    st.imageId = await writeImage(engine, st.config, [], []);
  }
  return st.imageId;
}

async function step(
  engine: Engine,
  o: BuildOptions,
  st: State,
  ins: Instruction,
  stages: Stage[],
  stageImages: Array<string | undefined>,
  globals: Record<string, string | undefined>,
  ig: Ignore,
  escape: string,
  say: (s: string) => void,
): Promise<void> {
  const file = o.file;
  const cfg = st.config;
  const c = cfg.config!;
  const vars = (): Record<string, string | undefined> => ({ ...st.args, ...envMap(cfg) });
  const sub = (s: string): string => {
    try {
      return substitute(s, vars(), escape);
    } catch (e) {
      throw buildError(file, ins.line, ins.cmd, (e as Error).message);
    }
  };
  const nop = (text: string): string => `/bin/sh -c #(nop) ${text}`;

  /** Commits the metadata-only change (or finds it in the cache). */
  const commitConfig = async (createdBy: string): Promise<void> => {
    const key = sha(`${st.key}\n${ins.original}\n${JSON.stringify(c)}`);
    st.key = key;
    if (useCache(engine, st, key, o.noCache, say)) return;
    cfg.created = new Date().toISOString();
    cfg.history!.push({ created: cfg.created, created_by: createdBy, empty_layer: true });
    const id = await writeImage(engine, cfg, st.layers, [], st.imageId);
    st.imageId = id;
    await cachePut(engine, key, id);
    say(`--> ${id.slice(0, 12)}`);
  };

  switch (ins.cmd) {
    case 'ARG': {
      declareArgs(ins, st.args, vars(), o.buildArgs, escape, file);
      for (const w of ins.args) {
        const name = w.split('=')[0]!;
        if (!w.includes('=') && st.args[name] === undefined && globals[name] !== undefined) st.args[name] = globals[name];
      }
      // ARG values are not part of the image, but they are part of what later steps see.
      st.key = sha(`${st.key}\n${ins.original}\n${JSON.stringify(st.args)}`);
      return;
    }
    case 'ENV':
      for (const [k, v] of keyValues(file, ins, vars(), escape)) setEnv(cfg, k, v);
      return commitConfig(nop(`ENV ${ins.raw}`));
    case 'LABEL': {
      const labels = { ...((c.Labels as Record<string, string> | null | undefined) ?? {}) };
      for (const [k, v] of keyValues(file, ins, vars(), escape)) labels[k] = v;
      c.Labels = labels;
      return commitConfig(nop(`LABEL ${ins.raw}`));
    }
    case 'MAINTAINER':
      cfg.author = ins.raw;
      return commitConfig(nop(`MAINTAINER ${ins.raw}`));
    case 'WORKDIR': {
      const w = sub(ins.args[0]!);
      c.WorkingDir = posix.resolve((c.WorkingDir as string | undefined) || '/', w);
      return commitConfig(nop(`WORKDIR ${w}`));
    }
    case 'USER':
      c.User = sub(ins.args[0]!);
      return commitConfig(nop(`USER ${c.User}`));
    case 'STOPSIGNAL':
      c.StopSignal = sub(ins.args[0]!);
      return commitConfig(nop(`STOPSIGNAL ${c.StopSignal}`));
    case 'EXPOSE': {
      const ports = { ...((c.ExposedPorts as Record<string, object> | undefined) ?? {}) };
      for (const p of ins.args.map(sub)) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw buildError(file, ins.line, 'EXPOSE', `invalid port "${p}"`);
        ports[p.includes('/') ? p : `${p}/tcp`] = {};
      }
      c.ExposedPorts = ports;
      return commitConfig(nop(`EXPOSE ${ins.args.map(sub).join(' ')}`));
    }
    case 'VOLUME': {
      const vols = { ...((c.Volumes as Record<string, object> | undefined) ?? {}) };
      for (const v of ins.args.map(sub)) {
        if (!v) throw buildError(file, ins.line, 'VOLUME', 'VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      c.Volumes = vols;
      return commitConfig(nop(`VOLUME ${JSON.stringify(ins.args.map(sub))}`));
    }
    case 'CMD':
      c.Cmd = ins.json ? ins.args : [...st.shell, ins.raw];
      st.cmdSet = true;
      return commitConfig(nop(`CMD ${JSON.stringify(c.Cmd)}`));
    case 'ENTRYPOINT':
      c.Entrypoint = ins.json ? ins.args : [...st.shell, ins.raw];
      if (!st.cmdSet) c.Cmd = null;
      return commitConfig(nop(`ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`));
    case 'SHELL':
      if (!ins.json || ins.args.length === 0) throw buildError(file, ins.line, 'SHELL', 'requires the arguments to be in JSON form');
      st.shell = ins.args;
      c.Shell = ins.args;
      return commitConfig(nop(`SHELL ${JSON.stringify(ins.args)}`));
    case 'ONBUILD':
      c.OnBuild = [...((c.OnBuild as string[] | null | undefined) ?? []), ins.raw];
      return commitConfig(nop(`ONBUILD ${ins.raw}`));
    case 'HEALTHCHECK': {
      const words = ins.args;
      const kind = (words[0] ?? '').toUpperCase();
      if (kind === 'NONE') {
        c.Healthcheck = { Test: ['NONE'] };
      } else if (kind === 'CMD') {
        const rest = ins.raw.replace(/^\s*CMD\s*/i, '');
        let test: string[];
        try {
          const j = JSON.parse(rest) as unknown;
          test = Array.isArray(j) ? ['CMD', ...(j as string[])] : ['CMD-SHELL', rest];
        } catch {
          test = ['CMD-SHELL', rest];
        }
        const hc: Record<string, unknown> = { Test: test };
        try {
          for (const [f, k] of [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const) {
            if (ins.flags[f] !== undefined) hc[k] = durationNs(ins.flags[f]!);
          }
        } catch (e) {
          throw buildError(file, ins.line, 'HEALTHCHECK', (e as Error).message);
        }
        if (ins.flags.retries !== undefined) hc.Retries = Number(ins.flags.retries);
        c.Healthcheck = hc;
      } else throw buildError(file, ins.line, 'HEALTHCHECK', `unknown type "${words[0] ?? ''}": expected CMD or NONE`);
      return commitConfig(nop(`HEALTHCHECK ${ins.raw}`));
    }
    case 'RUN':
      return runStep(engine, o, st, ins, say, { stages, stageImages, ig, sub });
    case 'COPY':
    case 'ADD':
      return copyStep(engine, o, st, ins, stages, stageImages, ig, sub, say);
  }
  throw buildError(file, ins.line, ins.cmd, 'not supported');
}

interface RunContext {
  stages: Stage[];
  stageImages: Array<string | undefined>;
  ig: Ignore;
  sub: (s: string) => string;
}

const RUN_NETWORKS = new Set(['default', 'none', 'host']);

async function runStep(engine: Engine, o: BuildOptions, st: State, ins: Instruction, say: (s: string) => void, rc: RunContext): Promise<void> {
  const c = st.config.config!;
  const where = `${o.file}:${ins.line}: RUN`;
  // RUN's own flags: --mount (several), --network, --security=sandbox; anything else is refused
  // rather than ignored (a build that silently drops a mount produces a different image).
  const mounts: RunMount[] = [];
  let network: string | undefined;
  for (const [k, v] of ins.flagList) {
    const val = rc.sub(v);
    if (k === 'mount') mounts.push(parseRunMount(val, (c.WorkingDir as string | undefined) ?? '/', where));
    else if (k === 'network') {
      if (!RUN_NETWORKS.has(val)) throw buildError(o.file, ins.line, 'RUN', `--network=${val}: use default, none or host`);
      network = val === 'default' ? undefined : val;
    } else if (k === 'security') {
      if (val !== 'sandbox') throw buildError(o.file, ins.line, 'RUN', `--security=${val}: only sandbox is supported (rootless builds cannot be insecure)`);
    } else throw buildError(o.file, ins.line, 'RUN', `unknown flag --${k}`);
  }
  let command: string[];
  if (ins.json) command = ins.args;
  else if (ins.heredocs.length === 1 && /^<<-?["']?\w+["']?\s*$/.test(ins.raw.trim())) command = [...st.shell, ins.heredocs[0]!.body];
  else command = [...st.shell, ins.heredocs.length ? `${ins.raw}\n${ins.heredocs.map((h) => `${h.body}${h.name}`).join('\n')}` : ins.raw];
  const argEnv = Object.entries(st.args)
    .filter(([k, v]) => v !== undefined && !(k in envMap(st.config)))
    .map(([k, v]) => `${k}=${v}`);
  const prepared = mounts.length
    ? await prepareRunMounts(engine, mounts, { contextDir: o.contextDir, cwd: o.cwd, ig: rc.ig, where }, (from) => {
        const idx = rc.stages.findIndex((s) => s.name === from.toLowerCase());
        if (idx >= 0) return Promise.resolve(rc.stageImages[idx]);
        if (/^\d+$/.test(from)) return Promise.resolve(rc.stageImages[Number(from)]);
        return baseImage(engine, o, from, [], [], ins);
      })
    : undefined;
  try {
    const key = sha(`${st.key}\n${ins.original}\n${JSON.stringify(command)}\n${JSON.stringify(argEnv)}${prepared ? `\n${prepared.key}` : ''}${network ? `\n${network}` : ''}`);
    st.key = key;
    if (useCache(engine, st, key, o.noCache, say)) return;
    const image = await ensureImage(engine, st);
    const env = [...((c.Env as string[] | undefined) ?? []), ...argEnv];
    const opts = ctrOptions(image, command, env, o.cwd, c.WorkingDir as string | undefined, c.User as string | undefined);
    if (prepared) opts.mounts = prepared.specs;
    if (network) opts.network = network;
    const rec = await engine.createContainer(opts);
    try {
      // The mount points the runtime will have to create: taken out of the layer afterwards.
      const stubs = mounts.length ? await withMountedRootfs(engine, rec, async (merged) => missingTargets(merged, mounts.map((m) => m.target))) : [];
      const code = await engine.startContainer(rec.id, { stdout: o.out, stderr: o.err, interactive: false, sigProxy: true });
      if (code !== 0) {
        throw new TspodError('runtime', `${o.file}:${ins.line}: building at STEP "${ins.original}": while running runtime: exit status ${code ?? 'unknown'}`, {
          exitCode: code && code > 0 && code < 256 ? code : 125,
        });
      }
      if (stubs.length) removeMountStubs(posix.join(engine.containers().dir(rec.id), 'diff'), stubs);
      const id = await commitContainer(engine, st, rec.id, key, `/bin/sh -c ${ins.json ? JSON.stringify(command) : ins.raw}`);
      say(`--> ${id.slice(0, 12)}`);
    } finally {
      await engine.removeContainer(rec.id, { force: true, volumes: true }).catch(() => {});
    }
  } finally {
    prepared?.cleanup();
  }
}

