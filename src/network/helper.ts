// The network helpers (slirp4netns, pasta): their command lines for tspod-monitor, which starts them
// against the container's network namespace (see src/native/monitor/nethelper.c), slirp4netns's API
// socket for published ports, and tearing a helper down when its monitor could not.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { TspodError } from '../errors.js';
import { isMounted } from '../storage/mount.js';
import { slirpAddresses, type NetworkMode } from './mode.js';
import { expandPorts, type PortMapping } from './ports.js';

/** Files of a container's network in its socket directory (<runroot>/s/<id prefix>). */
export const NETNS_FILE = 'netns';
export const SLIRP_API_SOCKET = 'slirp.sock';

export interface HelperCommand {
  path: string;
  /** With the monitor's placeholders {netns}, {ready-fd}, {ready-file}. */
  args: string[];
  netnsPath: string;
  /** slirp4netns's API socket, when ports are to be added through it. */
  apiSocket?: string;
}

/**
 * The helper's command line. slirp4netns: podman's flags (sandbox, seccomp, MTU 65520, IPv6,
 * host loopback off unless allow_host_loopback=true); ports are added later over its API socket.
 * pasta: --config-net, no automatic forwarding in either direction, the gateway not mapped to the
 * host unless the user passes --map-gw (podman 4.4's defaults); ports as -t/-u.
 */
export function helperCommand(mode: Extract<NetworkMode, { kind: 'slirp4netns' | 'pasta' }>, o: { sockDir: string; ports: PortMapping[]; path: string }): HelperCommand {
  const netnsPath = join(o.sockDir, NETNS_FILE);
  if (mode.kind === 'slirp4netns') {
    const s = mode.options;
    const args = ['--configure', `--mtu=${s.mtu}`];
    if (!s.allowHostLoopback) args.push('--disable-host-loopback');
    if (s.enableIpv6) args.push('--enable-ipv6');
    if (s.cidr !== '10.0.2.0/24') args.push(`--cidr=${s.cidr}`);
    if (s.outboundAddr) args.push(`--outbound-addr=${s.outboundAddr}`);
    if (s.outboundAddr6) args.push(`--outbound-addr6=${s.outboundAddr6}`);
    args.push('--enable-sandbox', '--enable-seccomp', '--ready-fd={ready-fd}');
    let apiSocket: string | undefined;
    if (o.ports.length) {
      apiSocket = join(o.sockDir, SLIRP_API_SOCKET);
      args.push(`--api-socket=${apiSocket}`);
    }
    args.push('--netns-type=path', '{netns}', 'tap0');
    return { path: o.path, args, netnsPath, apiSocket };
  }
  const user = [...mode.args];
  const mapGw = user.includes('--map-gw');
  const args = ['--config-net', '--foreground', '--quiet', '--pid', '{ready-file}', '--netns', '{netns}', '--netns-only', '-T', 'none', '-U', 'none'];
  if (!mapGw) args.push('--no-map-gw');
  const tcp = pastaSpecs(o.ports, 'tcp');
  const udp = pastaSpecs(o.ports, 'udp');
  for (const t of tcp.length ? tcp : ['none']) args.push('-t', t);
  for (const u of udp.length ? udp : ['none']) args.push('-u', u);
  args.push(...user.filter((a) => a !== '--map-gw'));
  return { path: o.path, args, netnsPath };
}

/** pasta's port spec: [ip/]host[-end]:container[-end]. */
function pastaSpecs(ports: PortMapping[], proto: 'tcp' | 'udp'): string[] {
  return ports
    .filter((p) => p.protocol === proto)
    .map((p) => {
      const r = (x: number): string => (p.range > 1 ? `${x}-${x + p.range - 1}` : String(x));
      return `${p.hostIp ? `${p.hostIp}/` : ''}${r(p.hostPort)}:${r(p.containerPort)}`;
    });
}

/** One request on slirp4netns's API socket (one connection each, as slirp4netns expects). */
function slirpRequest(socket: string, req: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // sun_path holds 107 bytes: a longer path is reached from its directory (connect() resolves
    // relative paths synchronously, and node runs one thread of JavaScript).
    let s: ReturnType<typeof connect>;
    if (Buffer.byteLength(socket) < 108) s = connect(socket);
    else {
      const cwd = process.cwd();
      process.chdir(dirname(socket));
      try {
        s = connect(basename(socket));
      } finally {
        process.chdir(cwd);
      }
    }
    let buf = '';
    s.setEncoding('utf8');
    s.setTimeout(10_000, () => s.destroy(new Error('no answer from slirp4netns')));
    s.on('connect', () => s.end(JSON.stringify(req)));
    s.on('data', (d: string) => (buf += d));
    s.on('error', (e) => reject(new TspodError('network', `slirp4netns API: ${e.message}`)));
    s.on('close', () => {
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch {
        reject(new TspodError('network', `slirp4netns API: unexpected answer ${JSON.stringify(buf.slice(0, 200))}`));
      }
    });
  });
}

/** Publishes the ports through slirp4netns's add_hostfwd (guest address: the container's). */
export async function slirpAddPorts(apiSocket: string, mode: Extract<NetworkMode, { kind: 'slirp4netns' }>, ports: PortMapping[]): Promise<void> {
  const guest = slirpAddresses(mode.options.cidr).guest;
  for (const p of expandPorts(ports)) {
    const r = await slirpRequest(apiSocket, {
      execute: 'add_hostfwd',
      arguments: { proto: p.protocol, host_addr: p.hostIp || '0.0.0.0', host_port: p.hostPort, guest_addr: guest, guest_port: p.containerPort },
    });
    if (r.error) {
      const desc = (r.error as { desc?: string }).desc ?? JSON.stringify(r.error);
      throw new TspodError('address-in-use', `cannot publish port ${p.hostPort}/${p.protocol} on ${p.hostIp || '0.0.0.0'}: slirp4netns: ${desc}`);
    }
  }
}

/** Whether pid is a network helper of the container whose socket directory is sockDir. */
function isHelperOf(pid: number, sockDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.includes(join(sockDir, NETNS_FILE)));
  } catch {
    return false;
  }
}

function umount(path: string): Promise<void> {
  return new Promise((resolve) => execFile('umount', ['-l', path], { timeout: 10_000 }, () => resolve()));
}

/**
 * What a monitor that died (kill -9) could not do: kill its helper (if PR_SET_PDEATHSIG has not)
 * and undo the network namespace bind mount. Cheap when there is nothing to do.
 */
export async function releaseNetwork(sockDir: string, helperPid: number | undefined): Promise<void> {
  if (helperPid && isHelperOf(helperPid, sockDir)) {
    try {
      process.kill(helperPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const ns = join(sockDir, NETNS_FILE);
  if (!existsSync(ns)) return;
  if (isMounted(ns)) await umount(ns);
  rmSync(ns, { force: true });
}
