// version and info: what tspod is, and what it runs on.
import { readFileSync, statfsSync } from 'node:fs';
import { arch, hostname, release, cpus, totalmem, freemem, uptime } from 'node:os';
import { VERSION } from '../version.js';
import { chooseRuntime, runtimeVersion, cgroupMode, findExecutable } from '../runtime/probe.js';
import { idMappings, readSubids, type IdMap } from '../userns/subid.js';
import type { EngineContext } from './context.js';
import type { Store } from '../storage/store.js';
import type { RegistriesConf } from '../image/registries.js';

export function goArch(a: string = arch()): string {
  const m: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return m[a] ?? a;
}

export interface VersionInfo {
  Client: { Version: string; APIVersion: string; NodeVersion: string; OsArch: string; Os: string; Runtime: { Name: string; Path: string; Version: string } };
}

export async function versionInfo(ctx: EngineContext): Promise<VersionInfo> {
  let rt = { Name: 'none', Path: '', Version: '' };
  try {
    const c = chooseRuntime(ctx.runtime, ctx.env);
    rt = { Name: c.name, Path: c.path, Version: await runtimeVersion(c.path) };
  } catch {
    /* reported as none */
  }
  return {
    Client: { Version: VERSION, APIVersion: VERSION, NodeVersion: process.version, OsArch: `linux/${goArch()}`, Os: 'linux', Runtime: rt },
  };
}

function toPodmanMaps(maps: IdMap[]): Array<{ container_id: number; host_id: number; size: number }> {
  return maps.map((m) => ({ container_id: m.containerId, host_id: m.hostId, size: m.size }));
}

function osRelease(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'linux';
  } catch {
    return 'linux';
  }
}

/** The storage driver the first container's probe chose (src/storage/mount.ts). */
function probedDriver(graphRoot: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(`${graphRoot}/driver.json`, 'utf8')) as { driver?: string }).driver;
  } catch {
    return undefined;
  }
}

function fsType(path: string): string {
  const names: Record<number, string> = { 0xef53: 'extfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs' };
  try {
    const t = statfsSync(path).type;
    return names[t] ?? `0x${t.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

export async function systemInfo(ctx: EngineContext, store: Store | undefined, registries: RegistriesConf | undefined): Promise<Record<string, unknown>> {
  const v = await versionInfo(ctx);
  const uidRanges = ctx.rootless ? readSubids('uid', ctx.hostUid, undefined, ctx.env) : [];
  const gidRanges = ctx.rootless ? readSubids('gid', ctx.hostUid, ctx.env.USER, ctx.env) : [];
  const images = store ? store.images() : [];
  const slirp = findExecutable('slirp4netns', ctx.env);
  const pasta = findExecutable('pasta', ctx.env);
  const regs: Record<string, unknown> = {};
  if (registries) {
    regs.search = registries.unqualifiedSearchRegistries;
    for (const r of registries.registries) {
      regs[r.prefix] = { Prefix: r.prefix, Location: r.location, Insecure: r.insecure, Blocked: r.blocked, Mirrors: r.mirrors.map((m) => ({ Location: m.location, Insecure: m.insecure })) };
    }
  }
  return {
    host: {
      arch: goArch(),
      buildahVersion: '',
      cgroupManager: 'cgroupfs',
      cgroupVersion: cgroupMode() === 'v2' ? 'v2' : 'v1',
      cgroupMode: cgroupMode(),
      cpus: cpus().length,
      distribution: { distribution: osRelease() },
      hostname: hostname(),
      idMappings: ctx.rootless
        ? { uidmap: toPodmanMaps(idMappings(ctx.hostUid, uidRanges)), gidmap: toPodmanMaps(idMappings(ctx.hostGid, gidRanges)) }
        : { uidmap: null, gidmap: null },
      kernel: release(),
      memFree: freemem(),
      memTotal: totalmem(),
      // No bridge networks: the network of a rootless container is its helper (containers.conf
      // [network] default_rootless_network_cmd).
      networkBackend: ctx.conf.network.default_rootless_network_cmd === 'pasta' ? 'pasta' : 'slirp4netns',
      rootlessNetworkCmd: ctx.conf.network.default_rootless_network_cmd === 'pasta' ? 'pasta' : 'slirp4netns',
      ociRuntime: { name: v.Client.Runtime.Name, path: v.Client.Runtime.Path, version: v.Client.Runtime.Version },
      os: 'linux',
      remoteSocket: { exists: false, path: `${ctx.runtimeDir}/tspod/tspod.sock` },
      security: { rootless: ctx.rootless, seccompEnabled: true, apparmorEnabled: false, selinuxEnabled: false },
      slirp4netns: { executable: slirp ?? '', package: slirp ? 'slirp4netns' : '' },
      pasta: { executable: pasta ?? '', package: pasta ? 'passt' : '' },
      uptime: `${Math.floor(uptime())}s`,
    },
    plugins: { network: ['slirp4netns', 'pasta'], log: ['k8s-file', 'none', 'passthrough'], volume: ['local'] },
    registries: regs,
    store: {
      configFile: ctx.conf.files[ctx.conf.files.length - 1] ?? '',
      graphDriverName: ctx.storageDriver ?? probedDriver(ctx.graphRoot) ?? 'overlay',
      graphRoot: ctx.graphRoot,
      graphRootAllocated: 0,
      graphStatus: { 'Backing Filesystem': fsType(ctx.graphRoot), 'Native Overlay Diff': 'true', 'Supports d_type': 'true' },
      imageStore: { number: images.length },
      runRoot: ctx.runRoot,
      volumePath: `${ctx.graphRoot}/volumes`,
    },
    version: { APIVersion: VERSION, Version: VERSION, NodeVersion: process.version, OsArch: `linux/${goArch()}` },
  };
}
