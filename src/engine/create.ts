// create: turn the user's run/create options into a container record, pulling the image first
// when the pull policy says so. Parsing of -v, --mount, --restart, --env-file lives here.
import { readFileSync, readdirSync, statSync, lstatSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { TspodError } from '../errors.js';
import { parseSize } from '../format/units.js';
import type { ContainerConfig, ContainerRecord, MountSpec } from '../storage/containers.js';
import { createRecord } from './containers.js';
import { networkConfig } from './network.js';
import { keepIdIds } from '../runtime/keepid.js';
import { parseDevice } from '../runtime/spec.js';
import type { Engine } from './index.js';
import type { PullEvent } from './pull.js';
import { trace } from '../util/trace.js';

export interface CreateOptions {
  image: string;
  name?: string;
  command: string[];
  entrypoint?: string;
  env: string[];
  envFile: string[];
  envHost: boolean;
  workdir?: string;
  user?: string;
  hostname?: string;
  tty: boolean;
  interactive: boolean;
  labels: string[];
  rm: boolean;
  restart?: string;
  volumes: string[];
  mounts: string[];
  tmpfs: string[];
  readOnly: boolean;
  init: boolean;
  network?: string;
  /** -p/--publish, -P/--publish-all, --expose, --dns, --dns-search, --dns-option, --add-host */
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  ulimits: string[];
  shmSize?: string;
  devices: string[];
  groupAdd: string[];
  userns?: string;
  pull: 'always' | 'missing' | 'never' | 'newer';
  logDriver?: string;
  logOpt: string[];
  runtime?: string;
  stopSignal?: string;
  stopTimeout?: number;
  memory?: string;
  cpus?: string;
  /** Names of cgroup limit flags given that tspod does not apply (--cpu-shares, --pids-limit...). */
  otherLimits?: string[];
  detachKeys?: string;
  platform?: string;
  createCommand: string[];
  /** The caller's cwd, for relative bind sources. */
  cwd: string;
}

function parseRestart(s: string | undefined): ContainerConfig['restartPolicy'] {
  if (!s || s === 'no') return { name: 'no', maxRetries: 0 };
  const [name, n] = s.split(':');
  if (name === 'on-failure') {
    const max = n === undefined ? 0 : Number(n);
    if (!Number.isInteger(max) || max < 0) throw new TspodError('invalid-argument', `invalid restart policy: maximum retries must be a non-negative integer: ${s}`);
    return { name, maxRetries: max };
  }
  if ((name === 'always' || name === 'unless-stopped') && n === undefined) return { name, maxRetries: 0 };
  throw new TspodError('invalid-argument', `invalid restart policy "${s}"`, { hint: 'Use no, on-failure[:max-retries], always or unless-stopped' });
}

/**
 * `--device` entries checked against the host as podman does at create time: the source must exist
 * and be a character or block device; a directory stands for every device node below it (each
 * under the same relative path in the container), and must hold at least one. Returns the list
 * with directories expanded.
 */
export function checkDevices(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    const d = parseDevice(spec);
    let st;
    try {
      st = statSync(d.source);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      throw new TspodError('invalid-argument', `stat ${d.source}: ${why}`);
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push(spec);
    } else if (st.isDirectory()) {
      const found: string[] = [];
      const walk = (dir: string): void => {
        let names: string[];
        try {
          names = readdirSync(dir).sort();
        } catch {
          return; // unreadable: podman skips it too
        }
        for (const name of names) {
          const p = join(dir, name);
          const l = lstatSync(p, { throwIfNoEntry: false });
          if (!l) continue;
          if (l.isDirectory()) walk(p); // symlinks are not followed
          else if (l.isCharacterDevice() || l.isBlockDevice()) found.push(p);
        }
      };
      walk(d.source);
      if (!found.length) throw new TspodError('invalid-argument', `no devices found in ${d.source}: invalid argument`);
      for (const f of found) out.push(`${f}:${join(d.destination, relative(d.source, f))}:${d.permissions}`);
    } else {
      throw new TspodError('invalid-argument', `${d.source} is not a valid device: not a device node`);
    }
  }
  return out;
}

/** `--userns` modes tspod runs: refused at create time, as podman does, not when starting. */
function checkUserns(mode: string | undefined, rootless: boolean): void {
  if (mode === undefined || mode === '' || mode === 'host') return;
  if (mode.startsWith('keep-id')) {
    keepIdIds(mode, { uid: 0, gid: 0 }); // throws on unknown options
    if (!rootless) throw new TspodError('unsupported', '--userns=keep-id is only supported for rootless containers');
    return;
  }
  throw new TspodError('unsupported', `--userns=${mode} is not supported`);
}

export function parseEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TspodError('invalid-argument', `reading env file ${path}: ${(e as Error).message}`);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'));
}

const NAMED_VOLUME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** -v SRC:DEST[:OPTS] — an absolute or ./relative SRC is a bind mount, a name is a named volume. */
export function parseVolume(spec: string, cwd: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length === 1) {
    const dest = parts[0]!;
    if (!isAbsolute(dest)) throw new TspodError('invalid-argument', `invalid volume "${spec}": the container path must be absolute`);
    return { type: 'volume', source: '', destination: dest, options: [], name: '' };
  }
  if (parts.length > 3) throw new TspodError('invalid-argument', `invalid volume specification "${spec}"`, { hint: 'Use -v SOURCE:DEST[:OPTIONS]' });
  const [src, dest, opts] = parts as [string, string, string | undefined];
  if (!isAbsolute(dest)) throw new TspodError('invalid-argument', `invalid volume "${spec}": the container path "${dest}" must be absolute`);
  const options = opts ? opts.split(',').filter(Boolean) : [];
  for (const o of options) {
    if (!['ro', 'rw', 'z', 'Z', 'U', 'O', 'rbind', 'bind', 'rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'copy', 'nocopy'].includes(o)) {
      throw new TspodError('invalid-argument', `invalid volume option "${o}" in "${spec}"`);
    }
  }
  if (src.startsWith('/') || src.startsWith('.')) {
    return { type: 'bind', source: resolve(cwd, src), destination: dest, options };
  }
  if (!NAMED_VOLUME.test(src)) throw new TspodError('invalid-argument', `invalid volume name "${src}" in "${spec}"`);
  return { type: 'volume', source: '', destination: dest, options, name: src };
}

/** --mount type=bind|volume|tmpfs,source=..,target=..[,readonly] */
export function parseMount(spec: string, cwd: string): MountSpec {
  const kv = new Map<string, string>();
  const flags: string[] = [];
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) flags.push(part);
    else kv.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const type = kv.get('type') ?? 'volume';
  const dest = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!dest) throw new TspodError('invalid-argument', `invalid --mount "${spec}": target is required`);
  const src = kv.get('source') ?? kv.get('src') ?? '';
  const options: string[] = [];
  if (flags.includes('readonly') || flags.includes('ro') || kv.get('readonly') === 'true' || kv.get('ro') === 'true') options.push('ro');
  if (type === 'bind') {
    if (!src) throw new TspodError('invalid-argument', `invalid --mount "${spec}": source is required for bind mounts`);
    return { type: 'bind', source: resolve(cwd, src), destination: dest, options };
  }
  if (type === 'tmpfs') {
    const size = kv.get('tmpfs-size');
    const mode = kv.get('tmpfs-mode');
    if (size) options.push(`size=${size}`);
    if (mode) options.push(`mode=${mode}`);
    return { type: 'tmpfs', source: 'tmpfs', destination: dest, options };
  }
  if (type === 'volume') return { type: 'volume', source: '', destination: dest, options, name: src };
  throw new TspodError('invalid-argument', `invalid --mount type "${type}"`, { hint: 'Use bind, volume or tmpfs' });
}

/** The image's EXPOSE ports ("80/tcp"), for -P. */
function imageExposedPorts(engine: Engine, imageId: string): string[] {
  try {
    const doc = JSON.parse(engine.store().imageConfig(imageId).toString('utf8')) as { config?: { ExposedPorts?: Record<string, unknown> } };
    return Object.keys(doc.config?.ExposedPorts ?? {});
  } catch {
    return [];
  }
}

export async function createContainer(engine: Engine, o: CreateOptions, onPull?: (e: PullEvent) => void): Promise<ContainerRecord> {
  if (o.memory || o.cpus) {
    if (engine.ctx.rootless) {
      throw new TspodError('unsupported', `${o.memory ? '--memory' : '--cpus'} needs cgroup limits, which rootless containers cannot use on this host`, {
        hint: 'Rootless resource limits need cgroups v2 with controllers delegated to the user (systemd Delegate=yes); this host has hybrid cgroups',
      });
    }
  }
  const other = o.otherLimits ?? [];
  if (other.length) {
    const flags = other.map((f) => `--${f}`).join(', ');
    if (engine.ctx.rootless) {
      throw new TspodError('unsupported', `${flags} ${other.length > 1 ? 'need' : 'needs'} cgroup limits, which rootless containers cannot use on this host`, {
        hint: 'Rootless resource limits need cgroups v2 with controllers delegated to the user (systemd Delegate=yes); this host has hybrid cgroups',
      });
    }
    throw new TspodError('unsupported', `${flags}: not supported by tspod yet (only --memory and --cpus are applied)`);
  }
  const restartPolicy = parseRestart(o.restart);
  checkUserns(o.userns, engine.ctx.rootless);
  const devices = checkDevices(o.devices ?? []);
  if (o.rm && restartPolicy.name !== 'no') throw new TspodError('invalid-argument', 'the --rm option conflicts with --restart');
  let imageId: string | undefined;
  const local = (): string | undefined => {
    try {
      return engine.lookupImage(o.image).id;
    } catch {
      return undefined;
    }
  };
  if (o.pull !== 'always') imageId = local();
  if (!imageId || o.pull === 'always' || o.pull === 'newer') {
    if (o.pull === 'never' && !imageId) throw new TspodError('no-such-image', `${o.image}: image not known`);
    if (o.pull !== 'never') {
      // --pull newer with a local image: as podman, say nothing unless the registry has something
      // newer (events are held until a layer is downloaded or the pull ends with another image).
      const quiet = o.pull === 'newer' && imageId !== undefined && onPull !== undefined;
      const held: PullEvent[] = [];
      let passing = !quiet;
      const events = onPull && ((e: PullEvent): void => {
        if (!passing && (e.type === 'progress' || (e.type === 'blob' && e.state === 'start'))) {
          passing = true;
          for (const h of held.splice(0)) onPull(h);
        }
        if (passing) onPull(e);
        else held.push(e);
      });
      try {
        const pulled = (await engine.pull(o.image, { platform: o.platform }, events)).id;
        if (!passing && pulled !== imageId && onPull) for (const h of held) onPull(h);
        imageId = pulled;
      } catch (e) {
        if (o.pull !== 'newer' || !imageId) throw e;
      }
    }
  }
  if (!imageId) throw new TspodError('no-such-image', `${o.image}: image not known`);
  // The image's labels, then the user's (podman merges them the same way).
  trace('create: image found');
  const labels: Record<string, string> = { ...(engine.lookupImage(imageId).labels ?? {}) };
  for (const l of o.labels) {
    const eq = l.indexOf('=');
    labels[eq === -1 ? l : l.slice(0, eq)] = eq === -1 ? '' : l.slice(eq + 1);
  }
  const mounts: MountSpec[] = [
    ...o.volumes.map((v) => parseVolume(v, o.cwd)),
    ...o.mounts.map((m) => parseMount(m, o.cwd)),
    ...o.tmpfs.map((t) => {
      const [dest, opts] = t.split(/:(.*)/s);
      return { type: 'tmpfs' as const, source: 'tmpfs', destination: dest!, options: opts ? opts.split(',') : [] };
    }),
  ];
  for (const m of mounts) {
    if (m.type === 'volume') {
      const v = await engine.ensureVolume(m.name || undefined);
      m.name = v.name;
      m.source = v.mountpoint;
    }
  }
  let logDriver: ContainerConfig['logDriver'] = 'k8s-file';
  if (o.logDriver) {
    if (o.logDriver !== 'k8s-file' && o.logDriver !== 'none' && o.logDriver !== 'passthrough') {
      throw new TspodError('invalid-argument', `unsupported log driver "${o.logDriver}"`, { hint: 'Use k8s-file, none or passthrough' });
    }
    logDriver = o.logDriver;
  }
  let logMaxSize: number | undefined;
  for (const opt of o.logOpt) {
    const [k, v] = opt.split(/=(.*)/s);
    if (k === 'max-size') logMaxSize = parseSize(v ?? '');
    else if (k !== 'path' && k !== 'tag') throw new TspodError('invalid-argument', `unknown log option "${k}"`);
  }
  const env = [...o.envFile.flatMap(parseEnvFile), ...o.env];
  if (o.envHost) {
    for (const [k, v] of Object.entries(engine.ctx.env)) if (v !== undefined && !k.startsWith('_TSPOD')) env.unshift(`${k}=${v}`);
  }
  if (!imageId) throw new TspodError('no-such-image', `${o.image}: image not known`);
  const net = await networkConfig(
    engine.ctx,
    engine.containers(),
    { network: o.network, publish: o.publish ?? [], publishAll: o.publishAll ?? false, expose: o.expose ?? [], dns: o.dns ?? [], dnsSearch: o.dnsSearch ?? [], dnsOption: o.dnsOption ?? [], addHost: o.addHost ?? [] },
    o.publishAll ? imageExposedPorts(engine, imageId) : [],
  );
  const config: ContainerConfig = {
    command: o.command,
    entrypoint: o.entrypoint === undefined ? undefined : [o.entrypoint],
    env,
    workdir: o.workdir,
    user: o.user,
    hostname: o.hostname,
    tty: o.tty,
    interactive: o.interactive,
    labels,
    annotations: {},
    stopSignal: o.stopSignal,
    stopTimeout: o.stopTimeout ?? 10,
    autoRemove: o.rm,
    restartPolicy,
    mounts,
    readOnly: o.readOnly,
    init: o.init,
    ...net,
    capAdd: o.capAdd,
    capDrop: o.capDrop,
    privileged: o.privileged,
    securityOpt: o.securityOpt,
    ulimits: o.ulimits,
    shmSize: o.shmSize ? parseSize(o.shmSize) : undefined,
    devices,
    groupAdd: o.groupAdd,
    userns: o.userns,
    logDriver,
    logMaxSize,
    runtime: o.runtime,
    detachKeys: o.detachKeys,
    createCommand: o.createCommand,
  };
  if (!imageId) throw new TspodError('no-such-image', `${o.image}: image not known`);
  return createRecord(engine.containers(), { name: o.name, imageName: o.image, imageId, config });
}
