// The OCI runtime spec (config.json) for a container: what podman's pkg/specgen/generate and
// libpod/container_internal_linux.go produce, for runc/crun. `generateSpec` is a pure function of its
// input; the only I/O goes through the injected RootfsView (reading the container's passwd/group,
// resolving mount destinations and the working directory inside the root, creating a missing
// working directory — the last step, after every check passed).
//
// Everything taken from the input is copied; nothing returned aliases the input or a shared default
// (podman CVE-2020-14370).
//
// Decisions:
// - Rootless, default --userns: no user namespace in the spec; the runtime runs inside the pause
//   process's user namespace. keep-id: a new user namespace mapped like podman's GetKeepIDMapping.
// - /sys/fs/cgroup: mounted read-only (type cgroup) like podman, also on hybrid/v1 rootless hosts
//   (runc mounts the v1 hierarchies inside the container's cgroup namespace). Rootless without
//   delegation: no cgroupsPath, so runc skips cgroup management; resource flags are refused.
// - Image VOLUMEs: normalised, confined, and refused on / /proc /sys /dev; their sources (anonymous
//   volumes) are created by the caller, see imageVolumeDestinations.
import { posix } from 'node:path';
import { TspodError } from '../errors.js';
import type { CgroupMode } from './probe.js';
import { checkRootfs, ensureWorkdir, normalizeContainerPath, resolveInRoot, type RootfsView } from './confine.js';
import { NODE_TO_GOARCH, defaultSeccompProfile, parseSeccompProfile, seccompToOci, type OciSeccomp } from './seccomp.js';
import { resolveUser } from './user.js';

export type { RootfsView } from './confine.js';
export type { OciSeccomp } from './seccomp.js';

export const OCI_VERSION = '1.0.2-dev';
export const ociVersion = OCI_VERSION;
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The init binary (catatonit) is bind-mounted here and becomes args[0]. */
export const CONTAINER_INIT_PATH = '/dev/init';
/** podman's RLimitDefaultValue. */
export const RLIMIT_DEFAULT = 1048576;
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export const DEFAULT_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/interrupts',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
  '/sys/devices/virtual/powercap',
]);
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);
/** runc's allowlist of bind-mount destinations below /proc. */
const PROC_BIND_ALLOWED = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
  '/proc/sys/kernel/ns_last_pid',
]);

// ---- OCI types (runtime-spec 1.0.2, the fields tspod writes) ----

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}
export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}
export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}
export interface OciDevice {
  path: string;
  type: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}
export interface OciDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}
export interface OciResources {
  devices?: OciDeviceCgroup[];
  memory?: { limit: number };
  cpu?: { quota: number; period: number };
}
export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}
export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
}
export interface OciLinux {
  namespaces: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  devices?: OciDevice[];
  resources?: OciResources;
  cgroupsPath?: string;
  seccomp?: OciSeccomp;
  maskedPaths: string[];
  readonlyPaths: string[];
}
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: OciLinux;
}

// ---- input ----

/** The parts of an image config that matter here (Docker/OCI `config` object). */
export interface ImageConfig {
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
  Volumes?: Record<string, unknown> | null;
}

/** `-v /host:/ctr[:opts]` resolved by the caller, or a named volume (source = its directory). */
export interface BindMountInput {
  source: string;
  destination: string;
  /** ro, rw, z, Z (ignored: no SELinux), U (chown: done by the caller), [no]suid/dev/exec, propagation. */
  options?: string[];
}

/** A host device node, stat'ed by the caller (for root mode and --privileged). */
export interface HostDevice {
  path: string;
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** `private` (default), `host`, or `ns:/path/to/ns`. */
export type NamespaceMode = string;

export interface SpecInput {
  id: string;
  name?: string;
  /** Host path of the mounted root filesystem. */
  rootfs: string;
  view: RootfsView;
  image?: ImageConfig;

  command?: string[];
  /** `--entrypoint`: a string (JSON array allowed) or a list; `''` clears the image's. */
  entrypoint?: string | string[];
  env?: string[];
  /** Lines of --env-file files, already parsed to `K=V` / `K`. Applied before `env`. */
  envFile?: string[];
  envHost?: boolean;
  /** The caller's environment (for `-e K`, `-e K*`, --env-host). */
  hostEnv?: Record<string, string | undefined>;
  workdir?: string;
  /** Create a missing working directory (default true). */
  createWorkdir?: boolean;
  user?: string;
  groupAdd?: string[];
  hostname?: string;
  /** The host's hostname, used with --network host when no --hostname is given. */
  hostHostname?: string;
  tty?: boolean;
  interactive?: boolean;
  readOnly?: boolean;
  /** --read-only-tmpfs (default true): tmpfs on /tmp, /var/tmp, /run when --read-only. */
  readOnlyTmpfs?: boolean;
  tmpfs?: string[];
  binds?: BindMountInput[];
  volumes?: BindMountInput[];
  imageVolumeMode?: 'anonymous' | 'tmpfs' | 'ignore';
  /** Source directory for each image VOLUME (keyed by imageVolumeDestinations' paths). */
  imageVolumeSources?: Record<string, string>;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  /** Text of the file named by `--security-opt seccomp=<path>`, read by the caller. */
  seccompProfileJson?: string;
  ulimits?: string[];
  shmSize?: string;
  devices?: string[];
  hostDevices?: HostDevice[];
  init?: boolean;
  /** Host path of catatonit (required with init). */
  initPath?: string;

  rootless: boolean;
  /** '' (default), 'host', 'keep-id', 'keep-id:uid=U,gid=G'. */
  userns?: string;
  /** Rootless: the user's ids on the host and the total sizes of their subuid/subgid ranges. */
  rootlessIds?: { uid: number; gid: number; subUidSize: number; subGidSize: number };
  /** 'none' | 'host' | 'private' (also 'slirp4netns', 'pasta', 'bridge'), or 'ns:/path'. */
  network?: string;
  /** Path of the network namespace prepared for a private network (else the runtime creates one). */
  netnsPath?: string;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  uts?: NamespaceMode;

  memory?: string;
  cpus?: string;
  cgroupsAvailable: boolean;
  cgroupsMode?: CgroupMode;
  cgroupsPath?: string;

  annotations?: Record<string, string>;
  stopSignal?: string;
  /** Host files bind-mounted over the container's (passwd/group: --userns=keep-id's entries added). */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string; passwd?: string; group?: string };
  /** The engine process's limits (defaults and -1 are clamped to them when clamping applies). */
  hostRlimits?: { nofile?: { soft: number; hard: number }; nproc?: { soft: number; hard: number } };
  /** Clamp rlimits to hostRlimits: default = rootless; also true when the engine lacks CAP_SYS_RESOURCE. */
  clampRlimitsToHost?: boolean;
  /** The engine's capability bounding set (CAP_* names); default: every known capability. */
  boundingSet?: string[];
  /** Host `process.arch` for the seccomp filter (default: this process's). */
  arch?: string;
  /** The image's architecture (GOARCH, from its config): the default seccomp profile allows the
   * host's compat syscall ABIs only when it is not the host's own (see SeccompTarget.nativeOnly). */
  imageArch?: string;
  /** Whether the kernel has mqueue (default true). */
  mqueueSupported?: boolean;
}

// ---- helpers ----

function invalid(msg: string, hint?: string): never {
  throw new TspodError('invalid-argument', msg, hint ? { hint } : {});
}

function nsMode(v: string | undefined, flag: string, allowNone = false): { kind: 'private' | 'host' | 'none' | 'path'; path?: string } {
  if (v === undefined || v === '' || v === 'private') return { kind: 'private' };
  if (v === 'host') return { kind: 'host' };
  if (allowNone && v === 'none') return { kind: 'none' };
  if (allowNone && ['slirp4netns', 'pasta', 'bridge'].includes(v)) return { kind: 'private' };
  if (v.startsWith('ns:')) return { kind: 'path', path: normalizeContainerPath(v.slice(3), `--${flag} namespace path`) };
  throw new TspodError('unsupported', `--${flag}=${v} is not supported`);
}

/** Docker's rule: --entrypoint replaces the image's and drops its Cmd; a command replaces Cmd. */
export function makeArgs(image: ImageConfig | undefined, command?: readonly string[], entrypoint?: string | readonly string[]): string[] {
  let ep: string[];
  if (entrypoint === undefined) {
    ep = [...(image?.Entrypoint ?? [])];
  } else if (typeof entrypoint === 'string') {
    ep = [entrypoint];
    if (entrypoint.startsWith('[')) {
      try {
        const j = JSON.parse(entrypoint) as unknown;
        if (Array.isArray(j) && j.every((x) => typeof x === 'string')) ep = j as string[];
      } catch {
        /* a plain string */
      }
    }
  } else {
    ep = [...entrypoint];
  }
  if (ep.length === 1 && ep[0] === '') ep = [];
  let cmd = [...(command ?? [])];
  if (cmd.length === 0 && entrypoint === undefined) cmd = [...(image?.Cmd ?? [])];
  const args = [...ep, ...cmd];
  if (args.length === 0) {
    invalid('no command or entrypoint provided, and no CMD or ENTRYPOINT from image');
  }
  return args;
}

/** The image VOLUME paths, normalised; refused when they name / /proc /sys /dev (or below /proc). */
export function imageVolumeDestinations(image: ImageConfig | undefined): string[] {
  const out: string[] = [];
  for (const raw of Object.keys(image?.Volumes ?? {})) {
    const p = posix.normalize(`/${raw}`).replace(/(.)\/$/, '$1');
    if (raw.includes('\0')) throw new TspodError('hostile-content', `image VOLUME ${JSON.stringify(raw)} is invalid`);
    if (forbiddenDestination(p)) {
      throw new TspodError('hostile-content', `image VOLUME ${JSON.stringify(raw)} would cover ${p}; refusing it`);
    }
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function forbiddenDestination(p: string): boolean {
  if (p === '/' || p === '/proc' || p === '/sys' || p === '/dev') return true;
  return p.startsWith('/proc/') && !PROC_BIND_ALLOWED.has(p);
}

const BIND_OPTS = new Set(['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec']);
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function bindOptions(opts: readonly string[] | undefined, what: string): string[] {
  const out: string[] = [];
  let rec = 'rbind';
  let prop = 'rprivate';
  let rw = 'rw';
  for (const o of opts ?? []) {
    if (o === 'z' || o === 'Z' || o === 'U' || o === '') continue;
    if (o === 'ro' || o === 'rw') rw = o;
    else if (o === 'bind' || o === 'rbind') rec = o;
    else if (PROPAGATION.has(o)) prop = o;
    else if (BIND_OPTS.has(o)) out.push(o);
    else if (o === 'O') continue; // applied by the engine before the runtime sees the mount
    else invalid(`${what}: invalid mount option ${JSON.stringify(o)}`);
  }
  if (!out.includes('suid')) out.unshift('nosuid');
  if (!out.includes('dev')) out.unshift('nodev');
  return [rec, prop, rw, ...out.filter((o) => o !== 'suid' && o !== 'dev')];
}

function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

export function keepIdMappings(
  ids: NonNullable<SpecInput['rootlessIds']>,
  uid: number,
  gid: number,
): { uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] } {
  // podman's getRootlessKeepIDMapping. "host" ids are those of the pause namespace:
  // 0 = the user, 1..N = the subordinate ranges.
  const one = (id: number, max: number): OciIdMapping[] => {
    const m: OciIdMapping[] = [];
    if (max > 0 && id !== 0) m.push({ containerID: 0, hostID: 1, size: Math.min(id, max) });
    m.push({ containerID: id, hostID: 0, size: 1 });
    if (max > id) m.push({ containerID: id + 1, hostID: id + 1, size: max - id });
    return m;
  };
  return { uidMappings: one(uid, ids.subUidSize), gidMappings: one(gid, ids.subGidSize) };
}

export function parseKeepId(v: string): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  const rest = v.slice('keep-id'.length);
  if (rest === '') return out;
  if (!rest.startsWith(':')) throw new TspodError('unsupported', `--userns=${v} is not supported`);
  for (const kv of rest.slice(1).split(',')) {
    const [k, val] = kv.split('=', 2);
    if ((k !== 'uid' && k !== 'gid') || val === undefined || !/^[0-9]{1,10}$/.test(val) || Number(val) > 2 ** 31 - 1) {
      invalid(`invalid --userns option ${JSON.stringify(kv)}`);
    }
    out[k] = Number(val);
  }
  return out;
}

function matchGlob(pattern: string, p: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(p);
}

function shouldMask(p: string, unmask: readonly string[]): boolean {
  return !unmask.some((u) => u.toUpperCase() === 'ALL' || matchGlob(u, p));
}

// ---- the generator ----

export function generateSpec(input: SpecInput): OciSpec {
  const view = input.view;
  const rootless = input.rootless;
  const privileged = input.privileged === true;
  const image = input.image;
  const sec: SecurityOpts = parseSecurityOpts(input.securityOpt ?? []);

  // -- namespaces & user namespace --
  const pid = nsMode(input.pid, 'pid');
  const ipc = nsMode(input.ipc, 'ipc');
  const uts = nsMode(input.uts, 'uts');
  const net = nsMode(input.network, 'network', true);
  const userns = input.userns ?? '';
  let keepId: { uid: number; gid: number } | undefined;
  if (userns.startsWith('keep-id')) {
    if (!rootless || !input.rootlessIds) {
      throw new TspodError('unsupported', '--userns=keep-id is only supported for rootless containers');
    }
    const o = parseKeepId(userns);
    keepId = { uid: o.uid ?? input.rootlessIds.uid, gid: o.gid ?? input.rootlessIds.gid };
  } else if (userns !== '' && userns !== 'host') {
    throw new TspodError('unsupported', `--userns=${userns} is not supported`);
  }
  const newUserns = keepId !== undefined;
  const inUserNS = rootless || newUserns;

  // -- resources (fail early and clearly) --
  const resources: OciResources = {};
  const limits: string[] = [];
  if (input.memory !== undefined && input.memory !== '') {
    const bytes = parseRamInBytes(input.memory, 'memory');
    if (bytes < 6 * 1024 * 1024) invalid('minimum memory limit allowed is 6MB');
    resources.memory = { limit: bytes };
    limits.push('memory');
  }
  if (input.cpus !== undefined && input.cpus !== '') {
    const n = /^[0-9]+(\.[0-9]+)?$/.test(input.cpus) ? Number(input.cpus) : NaN;
    if (!(n > 0) || !Number.isFinite(n)) invalid(`invalid argument ${JSON.stringify(input.cpus)} for "--cpus" flag`);
    resources.cpu = { quota: Math.round(n * 100000), period: 100000 };
    limits.push('cpu');
  }
  if (limits.length && rootless && !input.cgroupsAvailable) {
    const mode = input.cgroupsMode ? `${input.cgroupsMode} cgroups` : 'cgroups not delegated to this user';
    throw new TspodError(
      'unsupported',
      `${limits.join(' and ')} limits require cgroups v2 with delegation; this host has ${mode}, so rootless containers cannot have resource limits`,
      { hint: 'Run without --memory/--cpus, or as root, or on a host with the unified cgroup hierarchy and systemd user delegation.' },
    );
  }

  // -- process args / env / cwd / user --
  let args = makeArgs(image, input.command, input.entrypoint);
  if (input.init) {
    if (!input.initPath) throw new TspodError('internal', '--init: no init binary path given');
    args = [CONTAINER_INIT_PATH, '--', ...args];
  }
  const hostEnv = input.hostEnv ?? {};
  const env = new Map<string, string>();
  env.set('PATH', DEFAULT_PATH);
  env.set('container', 'tspod');
  for (const e of image?.Env ?? []) {
    // lenient for image content: malformed entries are skipped, not fatal
    const eq = typeof e === 'string' ? e.indexOf('=') : -1;
    if (eq > 0 && !e.includes('\0')) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  if (input.tty && !env.has('TERM')) env.set('TERM', 'xterm');
  if (input.envHost) {
    for (const [k, v] of Object.entries(hostEnv)) if (v !== undefined && k !== '' && !k.includes('=')) env.set(k, v);
  }
  for (const [k, v] of parseEnvEntries(input.envFile ?? [], hostEnv, '--env-file')) env.set(k, v);
  for (const [k, v] of parseEnvEntries(input.env ?? [], hostEnv, '--env')) env.set(k, v);

  let hostname: string | undefined;
  if (input.hostname && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(input.hostname)) {
    invalid(`invalid hostname ${JSON.stringify(input.hostname)}`);
  }
  if (uts.kind === 'private') {
    hostname = input.hostname || (net.kind === 'host' && input.hostHostname) || input.id.slice(0, 12);
  } else if (input.hostname) {
    invalid('cannot set hostname when running in the host UTS namespace');
  }
  const envHostname = hostname ?? input.hostHostname;
  if (envHostname !== undefined && !env.has('HOSTNAME')) env.set('HOSTNAME', envHostname);

  let userSpec = input.user;
  if ((userSpec === undefined || userSpec === '') && keepId) userSpec = `${keepId.uid}:${keepId.gid}`;
  if (userSpec === undefined || userSpec === '') userSpec = image?.User ?? '';

  let cwd = '/';
  if (input.workdir !== undefined && input.workdir !== '') cwd = normalizeContainerPath(input.workdir, '--workdir');
  else if (image?.WorkingDir) cwd = posix.normalize(`/${image.WorkingDir}`).replace(/(.)\/$/, '$1');

  // -- capabilities --
  const bounding = normalizeCapabilities(input.boundingSet ?? ALL_CAPABILITIES).filter((c) => c !== 'ALL');
  let caplist: string[];
  if (privileged) caplist = [...bounding].sort();
  else caplist = mergeCapabilities(DEFAULT_CAPABILITIES, input.capAdd ?? [], input.capDrop ?? [], bounding).filter((c) => bounding.includes(c));

  // -- rlimits --
  const rlimits = buildRlimits(input);

  // -- mounts (system) --
  const devPtsGid5 = gid5Mapped(input, keepId);
  const canMountSys = !(net.kind === 'host' && inUserNS);
  const mounts: OciMount[] = [];
  if (inUserNS && pid.kind === 'host') {
    mounts.push({ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
  } else {
    mounts.push({ destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] });
  }
  mounts.push({ destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] });
  const ptsOpts = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'];
  if (devPtsGid5) ptsOpts.push('gid=5');
  mounts.push({ destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ptsOpts });
  if (ipc.kind !== 'host') {
    const shm = input.shmSize ? parseRamInBytes(input.shmSize, 'shm-size') : DEFAULT_SHM_SIZE;
    if (shm <= 0) invalid(`invalid shm size ${JSON.stringify(input.shmSize)}`);
    const size = shm % 1024 === 0 ? `${shm / 1024}k` : `${shm}`;
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`] });
  } else {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
  }
  if (input.mqueueSupported !== false) {
    if (inUserNS && ipc.kind === 'host') {
      mounts.push({ destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['bind', 'nosuid', 'noexec', 'nodev'] });
    } else {
      mounts.push({ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] });
    }
  }
  const sysRw = privileged ? 'rw' : 'ro';
  if (canMountSys) {
    mounts.push({ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysRw] });
    const cgPerm = privileged || sec.unmask.some((u) => u.toUpperCase() === 'ALL' || posix.normalize(u) === '/sys/fs/cgroup') ? 'rw' : 'ro';
    mounts.push({
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', cgPerm],
    });
  } else {
    // sysfs cannot be mounted without owning the network namespace: bind the host's, read-only.
    mounts.push({ destination: '/sys', type: 'bind', source: '/sys', options: ['rprivate', 'nosuid', 'noexec', 'nodev', sysRw, 'rbind'] });
    mounts.push({
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: '/sys/fs/cgroup',
      options: ['rprivate', 'nosuid', 'noexec', 'nodev', sysRw],
    });
  }

  // -- mounts (user and engine-provided), checked and resolved inside the root --
  checkRootfs(view);
  const extra: Array<OciMount & { what: string; user: boolean }> = [];
  const etc = input.etcFiles ?? {};
  const etcList: Array<[string | undefined, string]> = [
    [etc.hosts, '/etc/hosts'],
    [etc.resolvConf, '/etc/resolv.conf'],
    [etc.hostname, '/etc/hostname'],
    [etc.passwd, '/etc/passwd'],
    [etc.group, '/etc/group'],
  ];
  for (const [src, dst] of etcList) {
    if (src) extra.push({ destination: dst, type: 'bind', source: src, options: ['bind', 'rprivate'], what: dst, user: false });
  }
  if (input.init) {
    extra.push({
      destination: CONTAINER_INIT_PATH,
      type: 'bind',
      source: input.initPath as string,
      options: ['bind', 'rprivate', 'ro', 'nosuid', 'nodev'],
      what: '--init',
      user: false,
    });
  }
  for (const t of input.tmpfs ?? []) {
    const m = parseTmpfs(t);
    extra.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: m.options, what: `--tmpfs ${t}`, user: true });
  }
  for (const [list, flag] of [
    [input.binds ?? [], '--volume'],
    [input.volumes ?? [], '--volume'],
  ] as const) {
    for (const b of list) {
      const what = `${flag} ${b.source}:${b.destination}`;
      if (typeof b.source !== 'string' || !b.source.startsWith('/')) invalid(`${what}: the source must be an absolute path`);
      extra.push({ destination: b.destination, type: 'bind', source: b.source, options: bindOptions(b.options, what), what, user: true });
    }
  }
  // devices
  const linuxDevices: OciDevice[] = [];
  const deviceRules: OciDeviceCgroup[] = [];
  const hostDevices = input.hostDevices ?? [];
  const addDevice = (src: string, dst: string, perms: string, what: string): void => {
    const info = hostDevices.find((d) => d.path === src);
    if (inUserNS || !info) {
      const rw = perms.includes('w') ? 'rw' : 'ro';
      extra.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'rslave', 'nosuid', 'noexec', rw], what, user: true });
      return;
    }
    linuxDevices.push({ path: dst, type: info.type, major: info.major, minor: info.minor, fileMode: info.fileMode ?? 0o666, uid: info.uid ?? 0, gid: info.gid ?? 0 });
    deviceRules.push({ allow: true, type: info.type, major: info.major, minor: info.minor, access: perms });
  };
  for (const d of input.devices ?? []) {
    const p = parseDevice(d);
    addDevice(p.source, p.destination, p.permissions, `--device ${d}`);
  }
  if (privileged) {
    for (const d of hostDevices) {
      if (d.path === '/dev/ptmx' || d.path.startsWith('/dev/tty') || d.path.startsWith('/dev/pts/')) continue;
      if (extra.some((m) => m.destination === d.path) || linuxDevices.some((x) => x.path === d.path)) continue;
      if (inUserNS) {
        extra.push({ destination: d.path, type: 'bind', source: d.path, options: ['rbind', 'rslave', 'nosuid', 'noexec', 'rw'], what: d.path, user: false });
      } else {
        linuxDevices.push({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 });
      }
    }
  }

  // validate + resolve destinations; the user's mounts first: they win over the engine's (/etc/hosts...)
  const seen = new Set<string>();
  const kept: typeof extra = [];
  for (const m of [...extra.filter((x) => x.user), ...extra.filter((x) => !x.user)]) {
    const norm = normalizeContainerPath(m.destination, `${m.what} destination`);
    if (m.user && forbiddenDestination(norm)) invalid(`${m.what}: mounting over ${norm} is not allowed`);
    if (seen.has(norm)) {
      if (!m.user) continue;
      invalid(`${m.what}: duplicate mount destination ${norm}`);
    }
    seen.add(norm);
    const resolved = resolveInRoot(view, norm);
    if (m.user && forbiddenDestination(resolved)) {
      invalid(`${m.what}: ${norm} resolves to ${resolved} in the container; mounting over it is not allowed`);
    }
    if (kept.some((k) => k.destination === resolved)) {
      if (!m.user) continue;
      invalid(`${m.what}: duplicate mount destination ${resolved}`);
    }
    m.destination = resolved;
    kept.push(m);
  }
  extra.length = 0;
  extra.push(...kept);
  // image volumes
  const ivMode = input.imageVolumeMode ?? 'anonymous';
  if (ivMode !== 'ignore') {
    for (const dst of imageVolumeDestinations(image)) {
      if (seen.has(dst)) continue;
      const resolved = resolveInRoot(view, dst);
      if (forbiddenDestination(resolved)) {
        throw new TspodError('hostile-content', `image VOLUME ${dst} resolves to ${resolved} in the container; refusing it`);
      }
      if (extra.some((m) => m.destination === resolved)) continue;
      seen.add(dst);
      if (ivMode === 'tmpfs') {
        extra.push({ destination: resolved, type: 'tmpfs', source: 'tmpfs', options: ['rprivate', 'nosuid', 'nodev', 'rw'], what: dst, user: false });
      } else {
        const src = input.imageVolumeSources?.[dst];
        if (!src) throw new TspodError('internal', `no anonymous volume was created for the image VOLUME ${dst}`);
        extra.push({ destination: resolved, type: 'bind', source: src, options: ['rbind', 'rprivate', 'rw', 'nodev', 'nosuid'], what: dst, user: false });
      }
    }
  }
  if (input.readOnly && input.readOnlyTmpfs !== false) {
    for (const dst of ['/run', '/tmp', '/var/tmp']) {
      const resolved = resolveInRoot(view, dst);
      if (seen.has(dst) || extra.some((m) => m.destination === resolved) || forbiddenDestination(resolved)) continue;
      extra.push({ destination: resolved, type: 'tmpfs', source: 'tmpfs', options: ['rw', 'rprivate', 'nosuid', 'nodev'], what: dst, user: false });
    }
  }
  // user mounts supersede the system ones on the same destination; parents before children
  const userDests = new Set(extra.map((m) => m.destination));
  const finalMounts = mounts.filter((m) => !userDests.has(m.destination));
  const sorted = extra.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  for (const { m } of sorted) finalMounts.push({ destination: m.destination, type: m.type, source: m.source, options: [...m.options] });

  // -- user (reads the container's passwd/group) --
  const who = resolveUser(view, { user: userSpec, groupAdd: input.groupAdd ?? [] });
  if (!env.has('HOME')) env.set('HOME', who.home);
  const isRoot = who.uid === 0;
  let userCaps: string[] = [];
  if (!isRoot) {
    userCaps = mergeCapabilities([], input.capAdd ?? [], [], bounding).filter((c) => caplist.includes(c));
  }
  const capabilities: OciCapabilities = isRoot
    ? { bounding: caplist, effective: [...caplist], inheritable: [], permitted: [...caplist], ambient: [] }
    : // podman: a non-root user gets only the capabilities it was explicitly given, as ambient ones
      { bounding: caplist, effective: userCaps, inheritable: [...userCaps], permitted: [...userCaps], ambient: [...userCaps] };

  // -- linux --
  const namespaces: OciNamespace[] = [];
  const pushNs = (type: OciNamespace['type'], m: { kind: string; path?: string }): void => {
    if (m.kind === 'host') return;
    namespaces.push(m.kind === 'path' ? { type, path: m.path } : { type });
  };
  pushNs('pid', pid);
  if (net.kind === 'private' && input.netnsPath) namespaces.push({ type: 'network', path: normalizeContainerPath(input.netnsPath, 'netns path') });
  else pushNs('network', net.kind === 'none' ? { kind: 'private' } : net);
  pushNs('ipc', ipc);
  pushNs('uts', uts);
  namespaces.push({ type: 'mount' });
  namespaces.push({ type: 'cgroup' });
  const linux: OciLinux = { namespaces, maskedPaths: [], readonlyPaths: [] };
  if (keepId && input.rootlessIds) {
    namespaces.push({ type: 'user' });
    const m = keepIdMappings(input.rootlessIds, keepId.uid, keepId.gid);
    linux.uidMappings = m.uidMappings;
    linux.gidMappings = m.gidMappings;
  }
  if (!privileged) {
    for (const p of DEFAULT_MASKED_PATHS) if (shouldMask(p, sec.unmask)) linux.maskedPaths.push(p);
    if (!canMountSys && rootless && shouldMask('/sys/kernel', sec.unmask)) linux.maskedPaths.push('/sys/kernel');
    for (const p of DEFAULT_READONLY_PATHS) if (shouldMask(p, sec.unmask)) linux.readonlyPaths.push(p);
  }
  if (privileged || !(rootless && pid.kind === 'host')) {
    for (const p of sec.mask) if (!linux.maskedPaths.includes(p)) linux.maskedPaths.push(p);
  }
  if (!inUserNS) {
    if (privileged) resources.devices = [{ allow: true, access: 'rwm' }];
    else resources.devices = [{ allow: false, access: 'rwm' }, ...deviceRules];
    if (linuxDevices.length) linux.devices = linuxDevices;
  }
  if (Object.keys(resources).length) linux.resources = resources;
  if (!rootless || input.cgroupsAvailable) {
    if (input.cgroupsPath) linux.cgroupsPath = input.cgroupsPath;
    else if (!rootless) linux.cgroupsPath = `/tspod/tspod-${input.id}`;
  }
  // seccomp: podman drops the default profile for --privileged, keeps an explicit one
  if (sec.seccomp !== 'unconfined' && !(privileged && sec.seccomp === undefined)) {
    let profile = defaultSeccompProfile();
    const hostArch = input.arch ?? process.arch;
    let nativeOnly = input.imageArch !== undefined && input.imageArch === (NODE_TO_GOARCH[hostArch] ?? hostArch);
    if (sec.seccomp !== undefined) {
      nativeOnly = false;
      if (input.seccompProfileJson === undefined) {
        throw new TspodError('internal', `seccomp profile ${sec.seccomp} was not loaded`);
      }
      profile = parseSeccompProfile(input.seccompProfileJson);
    }
    linux.seccomp = seccompToOci(profile, { bounding: caplist, arch: hostArch, nativeOnly });
  }

  // -- annotations --
  const annotations: Record<string, string> = { 'io.container.manager': 'tspod' };
  for (const [k, v] of Object.entries(input.annotations ?? {})) {
    if (k === '' || typeof v !== 'string') invalid(`invalid annotation ${JSON.stringify(k)}`);
    annotations[k] = v;
  }
  const stop = input.stopSignal || image?.StopSignal;
  if (stop) annotations['org.opencontainers.image.stopSignal'] = signalName(parseSignal(stop));
  if (privileged) annotations['io.podman.annotations.privileged'] = 'TRUE';
  if (input.init) annotations['io.podman.annotations.init'] = 'TRUE';

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.tty === true,
      user: { uid: who.uid, gid: who.gid, umask: 0o022 },
      args,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd,
      capabilities,
      rlimits,
      noNewPrivileges: sec.noNewPrivileges,
    },
    root: { path: input.rootfs, readonly: input.readOnly === true },
    mounts: finalMounts,
    annotations,
    linux,
  };
  if (who.additionalGids.length) spec.process.user.additionalGids = [...who.additionalGids];
  if (hostname !== undefined) spec.hostname = hostname;

  // -- the working directory: validated always, created last --
  if (input.createWorkdir === false) resolveInRoot(view, cwd);
  else ensureWorkdir(view, cwd, { uid: who.uid, gid: who.gid });
  return spec;
}

function gid5Mapped(input: SpecInput, keepId: { uid: number; gid: number } | undefined): boolean {
  if (!input.rootless) return true;
  const ids = input.rootlessIds;
  if (!ids) return true; // the caller did not say: assume the usual subordinate range
  if (ids.subGidSize < 5) return false;
  if (keepId) {
    const m = keepIdMappings(ids, keepId.uid, keepId.gid).gidMappings;
    return m.some((r) => r.containerID <= 5 && 5 < r.containerID + r.size);
  }
  return true;
}

function buildRlimits(input: SpecInput): OciRlimit[] {
  const user = (input.ulimits ?? []).map(parseUlimit);
  if (user.some((u) => u.type === 'host')) return [];
  const out: OciRlimit[] = [];
  const host = input.hostRlimits ?? {};
  // podman clamps when it cannot raise limits: rootless, or no CAP_SYS_RESOURCE
  const clamp = input.clampRlimitsToHost ?? input.rootless;
  for (const [type, key] of [
    ['RLIMIT_NOFILE', 'nofile'],
    ['RLIMIT_NPROC', 'nproc'],
  ] as const) {
    if (user.some((u) => u.type === type)) continue;
    let v = RLIMIT_DEFAULT;
    const h = host[key];
    if (clamp && h) v = Math.min(v, h.hard);
    out.push({ type, hard: v, soft: v });
  }
  for (const u of user) {
    const r: OciRlimit = { type: u.type, hard: u.hard, soft: u.soft };
    const key = u.type === 'RLIMIT_NOFILE' ? 'nofile' : u.type === 'RLIMIT_NPROC' ? 'nproc' : undefined;
    const h = key ? host[key] : undefined;
    if (clamp && h && key) {
      // podman's ClampRlimitToHost: -1 means "as high as this user may go"
      if (r.hard === RLIM_INFINITY) r.hard = h.hard;
      if (r.soft === RLIM_INFINITY) r.soft = r.hard;
      if (BigInt(r.hard) > BigInt(h.hard)) {
        invalid(`--ulimit ${key}: the hard limit ${r.hard} is above the engine's own hard limit ${h.hard}`, 'Use -1 for the highest allowed value.');
      }
    }
    const i = out.findIndex((x) => x.type === r.type);
    if (i >= 0) out[i] = r;
    else out.push(r);
  }
  return out;
}

/** config.json text; unlimited rlimits (bigint 2^64-1) are written as exact integers. */
export function specToJson(spec: OciSpec): string {
  const marker = '@@tspod-bigint@@';
  const text = JSON.stringify(spec, (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v), 2);
  return text.replace(new RegExp(`"${marker}([0-9]+)"`, 'g'), '$1');
}


// ---- flag parsers (exported for the CLI front, which validates early with them) ----

/** Every capability of Linux 6.x, in kernel order. */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

/** containers.conf default_capabilities. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
]);

/** Upper-cases, adds `CAP_`, keeps `ALL`, refuses unknown names; sorted. */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  const out = caps.map((c) => {
    let n = c.toUpperCase();
    if (n === 'ALL') return n;
    if (!n.startsWith('CAP_')) n = `CAP_${n}`;
    if (!ALL_CAPABILITIES.includes(n)) invalid(`${JSON.stringify(n)}: unknown capability`);
    return n;
  });
  return [...new Set(out)].sort();
}

/** podman's capabilities.MergeCapabilities; `bounding` stands for "ALL". */
export function mergeCapabilities(
  base: readonly string[],
  adds: readonly string[],
  drops: readonly string[],
  bounding: readonly string[] = ALL_CAPABILITIES,
): string[] {
  let b = normalizeCapabilities(base);
  if (adds.length === 0 && drops.length === 0) return b;
  const capDrop = normalizeCapabilities(drops);
  let capAdd = normalizeCapabilities(adds);
  if (capDrop.includes('ALL')) {
    if (capAdd.includes('ALL')) invalid('adding all caps and removing all caps not allowed');
    return capAdd;
  }
  if (capAdd.includes('ALL')) {
    b = [...bounding];
    capAdd = [];
  }
  for (const c of capAdd) if (capDrop.includes(c)) invalid(`capability ${JSON.stringify(c)} cannot be dropped and added`);
  const caps = b.filter((c) => !capDrop.includes(c));
  for (const c of capAdd) if (!caps.includes(c)) caps.push(c);
  return [...new Set(caps)].sort();
}

export type RlimitValue = number | bigint;
export interface OciRlimit {
  type: string;
  hard: RlimitValue;
  soft: RlimitValue;
}
/** RLIM_INFINITY; serialise with specToJson. */
export const RLIM_INFINITY = 2n ** 64n - 1n;

const ULIMIT_TYPES = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

function limitValue(s: string, arg: string): RlimitValue {
  if (!/^-?[0-9]{1,19}$/.test(s)) invalid(`invalid ulimit argument: ${arg}`);
  const n = BigInt(s);
  if (n < -1n || n > 2n ** 63n - 1n) invalid(`invalid ulimit argument: ${arg}`);
  if (n === -1n) return RLIM_INFINITY;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** `--ulimit type=soft[:hard]` (docker/go-units ParseUlimit; -1 = unlimited), or `host`. */
export function parseUlimit(arg: string): OciRlimit {
  if (arg === 'host') return { type: 'host', soft: 0, hard: 0 };
  const eq = arg.indexOf('=');
  if (eq < 0) invalid(`invalid ulimit argument: ${arg}`);
  const name = arg.slice(0, eq);
  const val = arg.slice(eq + 1);
  if (!ULIMIT_TYPES.has(name)) invalid(`invalid ulimit type: ${name}`);
  const parts = val.split(':');
  if (parts.length > 2) invalid(`too many limit value arguments - ${val}, can only have up to two, \`soft:hard\``);
  const soft = limitValue(parts[0], arg);
  const hard = parts.length === 2 ? limitValue(parts[1], arg) : soft;
  if (BigInt(soft) > BigInt(hard)) invalid(`ulimit soft limit must be less than or equal to hard limit: ${parts[0]} > ${parts[1]}`);
  return { type: `RLIMIT_${name.toUpperCase()}`, soft, hard };
}

/** docker/go-units RAMInBytes: `64m`, `1.5g`, `1024`, `2GiB`. */
export function parseRamInBytes(s: string, flag: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) invalid(`invalid size: ${JSON.stringify(s)} for --${flag}`);
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  const n = Math.floor(Number(m[1]) * (m[2] ? mult[m[2].toLowerCase()] : 1));
  if (!Number.isSafeInteger(n)) invalid(`invalid size: ${JSON.stringify(s)} for --${flag}`);
  return n;
}

/** `K=V`, `K` (copied from the host env when set there), `K*` (every host variable with that prefix). */
export function parseEnvEntries(
  list: readonly string[],
  hostEnv: Record<string, string | undefined>,
  what: string,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const e of list) {
    if (typeof e !== 'string' || e.includes('\0')) invalid(`invalid environment variable in ${what}: ${JSON.stringify(e)}`);
    const eq = e.indexOf('=');
    const key = eq < 0 ? e : e.slice(0, eq);
    if (key === '' || /\s/.test(key)) invalid(`invalid environment variable: ${JSON.stringify(e)}`);
    if (eq >= 0) {
      out.push([key, e.slice(eq + 1)]);
    } else if (key.endsWith('*')) {
      const prefix = key.slice(0, -1);
      for (const [k, v] of Object.entries(hostEnv)) if (k.startsWith(prefix) && v !== undefined) out.push([k, v]);
    } else {
      const v = hostEnv[key];
      if (v !== undefined) out.push([key, v]);
    }
  }
  return out;
}

export interface SecurityOpts {
  noNewPrivileges: boolean;
  /** 'unconfined', a profile path, or undefined (the default profile). */
  seccomp?: string;
  mask: string[];
  unmask: string[];
}

/** `--security-opt` values (podman and Docker spellings; label= and apparmor= are accepted and ignored). */
export function parseSecurityOpts(opts: readonly string[]): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, mask: [], unmask: [] };
  for (const [i, o] of opts.entries()) {
    if (o === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    const m = /^([a-z-]+)[=:](.*)$/s.exec(o);
    if (!m) invalid(`invalid --security-opt ${i + 1}: ${JSON.stringify(o)}`);
    const [, key, val] = m;
    switch (key) {
      case 'no-new-privileges':
        if (val !== 'true' && val !== 'false') invalid(`invalid --security-opt ${i + 1}: ${JSON.stringify(o)}`);
        out.noNewPrivileges = val === 'true';
        break;
      case 'seccomp':
        if (val === '') invalid(`invalid --security-opt ${i + 1}: ${JSON.stringify(o)}`);
        out.seccomp = val;
        break;
      case 'label':
      case 'apparmor':
        break; // no SELinux/AppArmor support: accepted like podman does on hosts without them
      case 'mask':
        for (const p of val.split(':')) {
          if (p === '') continue;
          out.mask.push(normalizeContainerPath(p, 'mask path'));
        }
        break;
      case 'unmask':
        for (const p of val.split(':')) if (p !== '') out.unmask.push(p);
        break;
      case 'systempaths':
        if (val !== 'unconfined') invalid(`invalid --security-opt ${i + 1}: ${JSON.stringify(o)}`);
        out.unmask.push('ALL');
        break;
      default:
        invalid(`invalid --security-opt ${i + 1}: ${JSON.stringify(o)}`);
    }
  }
  return out;
}

const DEVICE_MODE = /^[rwm]{1,3}$/;
function validDeviceMode(s: string): boolean {
  return DEVICE_MODE.test(s) && new Set(s).size === s.length;
}

/** `--device src[:dst][:perms]` (podman's ParseDevice). */
export function parseDevice(spec: string): { source: string; destination: string; permissions: string } {
  const arr = spec.split(':');
  let permissions = 'rwm';
  let dst = '';
  if (arr.length > 3 || arr[0] === '') invalid(`invalid device specification: ${spec}`);
  if (arr.length === 3) {
    if (!validDeviceMode(arr[2])) invalid(`invalid device mode: ${arr[2]}`);
    permissions = arr[2];
  }
  if (arr.length >= 2) {
    if (arr.length === 2 && validDeviceMode(arr[1])) permissions = arr[1];
    else if (arr[1] === '' || !arr[1].startsWith('/')) invalid(`invalid device mode: ${arr[1]}`);
    else dst = arr[1];
  }
  const src = arr[0];
  if (!src.startsWith('/')) invalid(`invalid device specification: ${spec}: the device path must be absolute`);
  return { source: posix.normalize(src), destination: normalizeContainerPath(dst || src, 'device destination'), permissions };
}

const TMPFS_FLAGS = new Set([
  'ro',
  'rw',
  'exec',
  'noexec',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'atime',
  'noatime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
]);

/** `--tmpfs /path[:opts]`; defaults rw,noexec,nosuid,nodev like podman. */
export function parseTmpfs(spec: string): { destination: string; options: string[] } {
  const colon = spec.indexOf(':');
  const dst = colon < 0 ? spec : spec.slice(0, colon);
  const destination = normalizeContainerPath(dst, '--tmpfs destination');
  const given = colon < 0 ? [] : spec.slice(colon + 1).split(',').filter((o) => o !== '');
  const flags: string[] = [];
  const data: string[] = [];
  for (const o of given) {
    if (o === 'tmpcopyup' || o === 'notmpcopyup' || o === 'U' || o === 'z' || o === 'Z') continue;
    const kv = /^(size|mode|uid|gid|nr_inodes|nr_blocks)=(.+)$/.exec(o);
    if (kv) {
      const [, k, v] = kv;
      const ok =
        k === 'mode' ? /^[0-7]{1,4}$/.test(v) : k === 'size' ? /^[0-9]+[kKmMgG%]?$/.test(v) : /^[0-9]+[kKmMgG]?$/.test(v);
      if (!ok) invalid(`--tmpfs ${spec}: invalid option ${JSON.stringify(o)}`);
      data.push(o);
    } else if (TMPFS_FLAGS.has(o)) {
      flags.push(o);
    } else {
      invalid(`--tmpfs ${spec}: invalid option ${JSON.stringify(o)}`);
    }
  }
  const has = (x: string): boolean => flags.includes(x);
  const options = [has('ro') ? 'ro' : 'rw'];
  if (has('noexec')) options.push('noexec'); // podman 4.3.1: exec unless asked (Docker: noexec)
  if (!has('suid')) options.push('nosuid');
  if (!has('dev')) options.push('nodev');
  for (const f of flags) if (!['ro', 'rw', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev'].includes(f)) options.push(f);
  return { destination, options: [...options, ...data] };
}

const SIGNALS: ReadonlyArray<[string, number]> = [
  ['HUP', 1], ['INT', 2], ['QUIT', 3], ['ILL', 4], ['TRAP', 5], ['ABRT', 6], ['IOT', 6], ['BUS', 7],
  ['FPE', 8], ['KILL', 9], ['USR1', 10], ['SEGV', 11], ['USR2', 12], ['PIPE', 13], ['ALRM', 14],
  ['TERM', 15], ['STKFLT', 16], ['CHLD', 17], ['CLD', 17], ['CONT', 18], ['STOP', 19], ['TSTP', 20],
  ['TTIN', 21], ['TTOU', 22], ['URG', 23], ['XCPU', 24], ['XFSZ', 25], ['VTALRM', 26], ['PROF', 27],
  ['WINCH', 28], ['IO', 29], ['POLL', 29], ['PWR', 30], ['SYS', 31],
];

/** A signal name (`SIGTERM`, `term`, `RTMIN+3`) or number, 1..64. */
export function parseSignal(s: string): number {
  const raw = s.replace(/^-/, '');
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 64) return n;
    invalid(`invalid signal ${JSON.stringify(s)}: valid signals are 1 through 64`);
  }
  const name = raw.toUpperCase().replace(/^SIG/, '');
  const hit = SIGNALS.find(([n]) => n === name);
  if (hit) return hit[1];
  const rt = /^RTM(IN|AX)([+-][0-9]+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'IN' ? 34 : 64) + Number(rt[2] ?? 0);
    if (n >= 34 && n <= 64) return n;
  }
  return invalid(`invalid signal: ${s}`);
}

export function signalName(n: number): string {
  const hit = SIGNALS.find(([, v]) => v === n);
  if (hit) return `SIG${hit[0]}`;
  if (n >= 34 && n <= 64) return n === 34 ? 'SIGRTMIN' : `SIGRTMIN+${n - 34}`;
  return String(n);
}
