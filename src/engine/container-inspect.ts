// `container inspect` data, shaped like Podman's.
import { join } from 'node:path';
import { GoTime } from '../format/gotime.js';
import type { ContainerRecord, ContainerStore } from '../storage/containers.js';
import { logPath, socketDir } from './lifecycle.js';
import { NETNS_FILE } from '../network/helper.js';
import { portBindings } from '../network/ports.js';
import { parseSignal } from '../runtime/spec.js';

export function stateString(c: ContainerRecord): string {
  return c.state.status === 'exited' || c.state.status === 'stopped' ? 'exited' : c.state.status;
}

export function inspectContainer(cs: ContainerStore, c: ContainerRecord, imageName: string): Record<string, unknown> {
  const zero = '0001-01-01T00:00:00Z';
  const running = c.state.status === 'running';
  const cfg = c.config;
  const args = c.resolved?.args ?? [...(cfg.entrypoint ?? []), ...cfg.command];
  return {
    Id: c.id,
    Created: new GoTime(c.created),
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      OciVersion: '1.0.2-dev',
      Status: stateString(c),
      Running: running,
      Paused: c.state.status === 'paused',
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? c.state.pid : 0,
      ConmonPid: running ? c.state.monitorPid : 0,
      ExitCode: c.state.exitCode,
      Error: c.state.error ?? '',
      StartedAt: new GoTime(c.state.startedAt ?? zero),
      FinishedAt: new GoTime(c.state.finishedAt ?? zero),
      Health: { Status: '', FailingStreak: 0, Log: null },
    },
    Image: c.imageId,
    ImageName: imageName,
    Rootfs: '',
    Pod: '',
    ResolvConfPath: join(cs.dir(c.id), 'userdata', 'resolv.conf'),
    HostnamePath: join(cs.dir(c.id), 'userdata', 'hostname'),
    HostsPath: join(cs.dir(c.id), 'userdata', 'hosts'),
    StaticDir: join(cs.dir(c.id), 'userdata'),
    OCIConfigPath: join(cs.runDir(c.id), 'config.json'),
    OCIRuntime: cfg.runtime ?? 'runc',
    LogPath: cfg.logDriver === 'k8s-file' ? logPath(cs, c.id) : '',
    Name: c.name,
    RestartCount: c.state.restartCount,
    Driver: 'overlay',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: null,
    BoundingCaps: null,
    ExecIDs: [],
    GraphDriver: {
      Name: 'overlay',
      Data: { UpperDir: join(cs.dir(c.id), 'diff'), WorkDir: join(cs.dir(c.id), 'work'), MergedDir: join(cs.dir(c.id), 'merged') },
    },
    Mounts: cfg.mounts.map((m) => ({
      Type: m.type,
      Name: m.name ?? '',
      Source: m.source,
      Destination: m.destination,
      Driver: m.type === 'volume' ? 'local' : '',
      Mode: '',
      Options: m.options,
      RW: !m.options.includes('ro'),
      Propagation: m.type === 'bind' ? 'rprivate' : '',
    })),
    Dependencies: [],
    NetworkSettings: {
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      MacAddress: '',
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: portBindings(cfg.portMappings, cfg.exposedPorts),
      // The network namespace file the monitor bind-mounts for the helper (podman shows its netns file).
      SandboxKey: running && c.state.netHelperPid ? join(socketDir(cs, c.id), NETNS_FILE) : '',
    },
    Namespace: '',
    IsInfra: false,
    IsService: false,
    Config: {
      Hostname: cfg.hostname ?? c.id.slice(0, 12),
      Domainname: '',
      User: cfg.user ?? '',
      AttachStdin: cfg.interactive,
      AttachStdout: false,
      AttachStderr: false,
      Tty: cfg.tty,
      OpenStdin: cfg.interactive,
      StdinOnce: false,
      Env: c.resolved?.env ?? cfg.env,
      Cmd: cfg.command.length ? cfg.command : null,
      Image: imageName,
      Volumes: null,
      WorkingDir: c.resolved?.cwd ?? cfg.workdir ?? '/',
      Entrypoint: cfg.entrypoint?.join(' ') ?? '',
      OnBuild: null,
      Labels: Object.keys(cfg.labels).length ? cfg.labels : null,
      Annotations: cfg.annotations,
      StopSignal: stopSignalNumber(cfg.stopSignal),
      StopTimeout: cfg.stopTimeout,
      CreateCommand: cfg.createCommand,
      Umask: '0022',
      Timeout: 0,
    },
    HostConfig: {
      Binds: cfg.mounts.filter((m) => m.type !== 'tmpfs').map((m) => `${m.name || m.source}:${m.destination}${m.options.length ? `:${m.options.join(',')}` : ''}`),
      CgroupManager: 'cgroupfs',
      CgroupMode: 'private',
      ContainerIDFile: '',
      LogConfig: { Type: cfg.logDriver, Config: null, Path: cfg.logDriver === 'k8s-file' ? logPath(cs, c.id) : '', Tag: '', Size: cfg.logMaxSize ? String(cfg.logMaxSize) : '0B' },
      NetworkMode: cfg.network,
      PortBindings: portBindings(cfg.portMappings),
      RestartPolicy: { Name: cfg.restartPolicy.name === 'no' ? '' : cfg.restartPolicy.name, MaximumRetryCount: cfg.restartPolicy.maxRetries },
      AutoRemove: cfg.autoRemove,
      CapAdd: cfg.capAdd,
      CapDrop: cfg.capDrop,
      Privileged: cfg.privileged,
      ReadonlyRootfs: cfg.readOnly,
      SecurityOpt: cfg.securityOpt,
      Tmpfs: Object.fromEntries(cfg.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, m.options.join(',')])),
      UsernsMode: cfg.userns ?? '',
      ShmSize: cfg.shmSize ?? 65536000,
      Init: cfg.init,
      Ulimits: cfg.ulimits,
      // Docker's and podman's shape (podman 4.3.1 rootless prints [] here, Docker and podman as root this)
      Devices: (cfg.devices ?? []).map(inspectDevice),
      GroupAdd: cfg.groupAdd,
    },
  };
}

/**
 * A recorded `--device SRC[:DST][:PERMS]` (validated by create) in Docker's inspect shape; not
 * runtime/spec.ts's parseDevice, which would load the spec generator into every inspect.
 */
function inspectDevice(d: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const [src = '', a, b] = d.split(':');
  const perms = b ?? (a !== undefined && /^[rwm]+$/.test(a) ? a : 'rwm');
  const dst = a !== undefined && a.startsWith('/') ? a : src;
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

/** podman shows the stop signal as a number (`--stop-signal SIGUSR1` → 10). */
function stopSignalNumber(sig: string | number | undefined): number | string {
  if (sig === undefined) return 15;
  try {
    return parseSignal(String(sig));
  } catch {
    return sig; // recorded before validation existed: shown as given
  }
}
