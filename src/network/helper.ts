// The network helpers (slirp4netns, pasta): their command lines for tspod-monitor, which starts them
// against the container's network namespace (see src/native/monitor/nethelper.c), slirp4netns's API
// socket for published ports, and tearing a helper down when its monitor could not.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { TspodError } from '../errors.js';
import { isMounted } from '../storage/mount.js';
import { slirpAddresses, type NetworkMode } from './mode.js';
import { expandPorts, type PortMapping } from './ports.js';
import { portHelper, type PortHelper } from './portfwd.js';

/** Files of a container's network in its socket directory (<runroot>/s/<id prefix>). */
export const NETNS_FILE = 'netns';
export const SLIRP_API_SOCKET = 'slirp.sock';

export interface HelperCommand {
  path: string;
  /** With the monitor's placeholders {netns}, {ready-fd}, {ready-file}. */
  args: string[];
  netnsPath: string;
  /** slirp4netns's API socket, when ports are to be added through it (port_handler=slirp4netns). */
  apiSocket?: string;
  /** tspod-portfwd for the published ports, started by the monitor beside the helper. */
  portHelper?: PortHelper;
  /** The helper itself holds published host ports (pasta -t/-u, slirp4netns's API): the monitor
   * then waits for it to be gone before it reports the exit (ports free when `stop` returns). */
  holdsPorts?: boolean;
}

/**
 * The helper's command line. slirp4netns: podman's flags (sandbox, seccomp, MTU 65520, IPv6,
 * host loopback off unless allow_host_loopback=true); published ports go through tspod-portfwd
 * (`portfwdPath`), connecting to the container's address inside its namespace, or with
 * port_handler=slirp4netns are added later over slirp4netns's API socket.
 * pasta: --config-net, no automatic forwarding in either direction, the gateway not mapped to the
 * host unless the user passes --map-gw (podman 4.4's defaults); ports as -t/-u.
 */
export function helperCommand(mode: Extract<NetworkMode, { kind: 'slirp4netns' | 'pasta' }>, o: { sockDir: string; ports: PortMapping[]; path: string; portfwdPath?: string }): HelperCommand {
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
    let ph: PortHelper | undefined;
    if (o.ports.length && (s.portHandler === 'slirp4netns' || !o.portfwdPath)) {
      apiSocket = join(o.sockDir, SLIRP_API_SOCKET);
      args.push(`--api-socket=${apiSocket}`);
    } else if (o.ports.length && o.portfwdPath) {
      ph = portHelper(o.portfwdPath, { netns: '{netns}', target: slirpAddresses(s.cidr).guest, ports: o.ports });
    }
    args.push('--netns-type=path', '{netns}', 'tap0');
    return { path: o.path, args, netnsPath, ...(apiSocket && { apiSocket, holdsPorts: true }), ...(ph && { portHelper: ph }) };
  }
  const user = [...mode.args];
  const mapGw = user.includes('--map-gw');
  const args = ['--config-net', '--foreground', '--quiet', '--pid', '{ready-file}', '--netns', '{netns}', '--netns-only'];
  // As podman: "none" for a direction only when the user's options say nothing about it (pasta
  // refuses `-T none` together with `-T PORT`).
  const gave = pastaUserPortOptions(user);
  if (!gave.T) args.push('-T', 'none');
  if (!gave.U) args.push('-U', 'none');
  if (!mapGw) args.push('--no-map-gw');
  const tcp = pastaSpecs(o.ports, 'tcp');
  const udp = pastaSpecs(o.ports, 'udp');
  for (const t of tcp.length || gave.t ? tcp : ['none']) args.push('-t', t);
  for (const u of udp.length || gave.u ? udp : ['none']) args.push('-u', u);
  args.push(...user.filter((a) => a !== '--map-gw'));
  return { path: o.path, args, netnsPath, ...((tcp.length || udp.length || gave.t || gave.u) && { holdsPorts: true }) };
}

const PASTA_PORT_OPTIONS = { t: '--tcp-ports', u: '--udp-ports', T: '--tcp-ns', U: '--udp-ns' } as const;

/** Which of pasta's port forwarding options (-t -u -T -U, long or short, joined or not) the user passed. */
export function pastaUserPortOptions(user: string[]): Record<keyof typeof PASTA_PORT_OPTIONS, boolean> {
  const out = { t: false, u: false, T: false, U: false };
  for (const a of user) {
    for (const [k, long] of Object.entries(PASTA_PORT_OPTIONS) as Array<[keyof typeof PASTA_PORT_OPTIONS, string]>) {
      if (a === long || a.startsWith(`${long}=`) || a === `-${k}` || (a.startsWith(`-${k}`) && !a.startsWith('--'))) out[k] = true;
    }
  }
  return out;
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
  await slirpAddHostfwds(apiSocket, slirpAddresses(mode.options.cidr).guest, ports);
}

/** One add_hostfwd rule as slirp4netns's list_hostfwd shows it. */
export interface Hostfwd {
  id: number;
  proto: string;
  host_addr: string;
  host_port: number;
  guest_addr: string;
  guest_port: number;
}

/**
 * add_hostfwd for every port to guestAddr; `added` is told of each rule as soon as it exists (so
 * that a failure halfway leaves nothing the caller cannot remove). Returns the rules.
 */
export async function slirpAddHostfwds(apiSocket: string, guestAddr: string, ports: PortMapping[], added?: (h: Hostfwd) => void): Promise<Hostfwd[]> {
  const out: Hostfwd[] = [];
  for (const p of expandPorts(ports)) {
    const args = { proto: p.protocol, host_addr: p.hostIp || '0.0.0.0', host_port: p.hostPort, guest_addr: guestAddr, guest_port: p.containerPort };
    const r = await slirpRequest(apiSocket, { execute: 'add_hostfwd', arguments: args });
    if (r.error) {
      const desc = (r.error as { desc?: string }).desc ?? JSON.stringify(r.error);
      throw new TspodError('address-in-use', `cannot publish port ${p.hostPort}/${p.protocol} on ${p.hostIp || '0.0.0.0'}: slirp4netns: ${desc}`);
    }
    const id = (r.return as { id?: unknown } | undefined)?.id;
    if (typeof id === 'number') {
      const h = { id, ...args };
      out.push(h);
      added?.(h);
    }
  }
  return out;
}

/**
 * remove_hostfwd for the rules that are still what they were (slirp4netns numbers its rules anew
 * when it restarts, so an id alone could name another container's rule). Errors are ignored.
 */
export async function slirpRemoveHostfwds(apiSocket: string, rules: Hostfwd[]): Promise<void> {
  const list = await slirpRequest(apiSocket, { execute: 'list_hostfwd' }).catch(() => undefined);
  // slirp4netns 1.x answers {"entries": [...]}; accept a {"return": {...}} wrapper too.
  const body = (list?.return ?? list) as { entries?: unknown } | undefined;
  const entries = (Array.isArray(body?.entries) ? body.entries : []) as Hostfwd[];
  for (const h of rules) {
    const same = entries.some(
      (e) => e.id === h.id && e.proto === h.proto && e.host_port === h.host_port && e.guest_addr === h.guest_addr && e.guest_port === h.guest_port,
    );
    if (same) await slirpRequest(apiSocket, { execute: 'remove_hostfwd', arguments: { id: h.id } }).catch(() => undefined);
  }
}

/** A container's ports on the shared namespace's slirp4netns (user-defined networks), in its socket directory. */
export const HOSTFWD_FILE = 'hostfwd.json';

interface HostfwdRecord {
  socket: string;
  rules: Hostfwd[];
}

/** Publishes ports on the shared slirp4netns, recording the rules in sockDir for releaseHostfwds. */
export async function addSharedHostfwds(sockDir: string, apiSocket: string, guestAddr: string, ports: PortMapping[]): Promise<void> {
  const rec: HostfwdRecord = { socket: apiSocket, rules: [] };
  const file = join(sockDir, HOSTFWD_FILE);
  await slirpAddHostfwds(apiSocket, guestAddr, ports, (h) => {
    rec.rules.push(h);
    writeFileSync(file, `${JSON.stringify(rec)}\n`, { mode: 0o600 });
  });
}

/** Removes the rules addSharedHostfwds recorded in sockDir (at cleanup, rm, a failed start or the next start). */
export async function releaseHostfwds(sockDir: string): Promise<void> {
  const file = join(sockDir, HOSTFWD_FILE);
  let rec: HostfwdRecord;
  try {
    rec = JSON.parse(readFileSync(file, 'utf8')) as HostfwdRecord;
  } catch {
    return;
  }
  if (typeof rec.socket === 'string' && Array.isArray(rec.rules) && existsSync(rec.socket)) await slirpRemoveHostfwds(rec.socket, rec.rules);
  rmSync(file, { force: true });
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
  await releaseHostfwds(sockDir);
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
