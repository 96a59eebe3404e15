// User-defined networks (podman's "bridge" driver, rootless): records and IP allocations in
// <graphroot>/networks.json (replaced atomically, under the store lock); the kernel side is in
// src/network/bridge.ts. A container on user networks stores `bridge:<net>[,<net>...][;aliases=a,b]`
// as its network mode; at start it gets a network namespace of its own (spec 'private') and the
// monitor runs a trivial "helper" (it only reports ready) so that the two-step start path is used:
// between the runtime's create and start, the CLI wires one veth per network to the network's
// bridge and rewrites /etc/hosts of every running member (in place: the file is bind-mounted).
// Published ports go through tspod-portfwd, which the monitor starts beside that helper.
import { randomBytes } from '../util/random.js';
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { attachContainer, ensureBridge, ensureSharedNetns, removeBridge, removeSharedNetns, sharedNetnsPath, type Attachment } from '../network/bridge.js';
import { releaseHostfwds, type HelperCommand } from '../network/helper.js';
import { portHelper } from '../network/portfwd.js';
import { checkHostPorts } from '../network/ports.js';
import { findExecutable } from '../runtime/probe.js';
import { readJson, writeFileAtomic } from '../storage/atomic.js';
import type { ContainerRecord, ContainerStore } from '../storage/containers.js';
import type { Store } from '../storage/store.js';
import type { NetworkPlan } from './network.js';

export interface NetworkRecord {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  created: string;
  subnets: Array<{ subnet: string; gateway: string }>;
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  labels: Record<string, string>;
  ipam_options: { driver: string };
  /** container id → IPv4 address */
  allocations: Record<string, string>;
}

interface Index {
  version: 1;
  items: NetworkRecord[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const PREFIX = 'bridge:';
const BUILTIN = ['none', 'host', 'bridge', 'private', 'slirp4netns', 'pasta', 'default', 'container', 'ns'];

function indexFile(store: Store): string {
  return join(store.graphRoot, 'networks.json');
}

function readIndex(store: Store): Index {
  return readJson<Index>(indexFile(store), { version: 1, items: [] });
}

function writeIndex(store: Store, idx: Index): void {
  writeFileAtomic(indexFile(store), `${JSON.stringify(idx, null, 2)}\n`);
}

export function listNetworks(store: Store): NetworkRecord[] {
  return [...readIndex(store).items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** By name, full ID or unique ID prefix. */
export function findNetwork(items: NetworkRecord[], key: string): NetworkRecord | undefined {
  const byName = items.find((n) => n.name === key);
  if (byName) return byName;
  if (!/^[0-9a-f]+$/.test(key)) return undefined;
  const m = items.filter((n) => n.id.startsWith(key));
  return m.length === 1 ? m[0] : undefined;
}

export function notFound(key: string): TspodError {
  return new TspodError('invalid-argument', `unable to find network with name or ID ${key}: network not found`, { exitCode: 125 });
}

export function getNetwork(store: Store, key: string): NetworkRecord {
  const n = findNetwork(listNetworks(store), key);
  if (!n) throw notFound(key);
  return n;
}

// ---- IPv4 -------------------------------------------------------------------------------------

function ipToNum(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new TspodError('invalid-argument', `${ip} is not an IPv4 address`);
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}

function numToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function parseCidr(cidr: string): { base: number; prefix: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || Number(m[2]) > 30 || Number(m[2]) < 8) throw new TspodError('invalid-argument', `invalid subnet "${cidr}": use an IPv4 network such as 10.89.1.0/24 (prefix 8..30)`);
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  const base = Math.floor(ipToNum(m[1]!) / size) * size;
  return { base, prefix };
}

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const xe = x.base + 2 ** (32 - x.prefix);
  const ye = y.base + 2 ** (32 - y.prefix);
  return x.base < ye && y.base < xe;
}

// ---- container network strings -----------------------------------------------------------------

export interface UserNetSpec {
  networks: string[];
  aliases: string[];
}

export function isUserNetworkMode(mode: string | undefined): boolean {
  return typeof mode === 'string' && mode.startsWith(PREFIX);
}

export function parseUserMode(mode: string): UserNetSpec {
  const [nets = '', ...rest] = mode.slice(PREFIX.length).split(';');
  const aliases = rest.find((r) => r.startsWith('aliases='))?.slice('aliases='.length) ?? '';
  return { networks: nets.split(',').filter(Boolean), aliases: aliases.split(',').filter(Boolean) };
}

export function formatUserMode(s: UserNetSpec): string {
  return `${PREFIX}${s.networks.join(',')}${s.aliases.length ? `;aliases=${s.aliases.join(',')}` : ''}`;
}

/** Containers whose network mode names the network. */
export function networkUsers(cs: ContainerStore, name: string): ContainerRecord[] {
  return cs.list().filter((c) => isUserNetworkMode(c.config.network) && parseUserMode(c.config.network).networks.includes(name));
}

/**
 * create: `--network NAME[,NAME...]` naming user-defined networks (and --network-alias) becomes the
 * canonical `bridge:` string; undefined when the value is not a user network (the caller goes on
 * with the other modes). Aliases travel as `;aliases=` appended by the CLI.
 */
export function userNetworkMode(store: Store, value: string | undefined): string | undefined {
  if (!value) return undefined;
  const [head = '', ...rest] = value.split(';');
  // The built-in modes never consult the store (and a network cannot take their names).
  if (!rest.length && (BUILTIN.includes(head) || /^(slirp4netns|pasta|container|ns):/.test(head))) return undefined;
  const aliases = rest.find((r) => r.startsWith('aliases='))?.slice('aliases='.length).split(',').filter(Boolean) ?? [];
  const items = listNetworks(store);
  const names = head.split(',');
  const found = names.map((n) => findNetwork(items, n));
  if (found.some((f) => f === undefined)) {
    if (aliases.length && found.some((f) => f !== undefined)) throw notFound(names[found.findIndex((f) => f === undefined)]!);
    if (aliases.length) throw new TspodError('invalid-argument', '--network-alias can only be used with user-defined networks');
    return undefined;
  }
  for (const a of aliases) if (!NAME_RE.test(a)) throw new TspodError('invalid-argument', `invalid network alias "${a}"`);
  return formatUserMode({ networks: [...new Set(found.map((f) => f!.name))], aliases });
}

// ---- commands ---------------------------------------------------------------------------------

export interface CreateNetworkOptions {
  name?: string;
  subnet?: string;
  gateway?: string;
  internal: boolean;
  labels: Record<string, string>;
  ignore: boolean;
}

export function createNetwork(store: Store, o: CreateNetworkOptions): Promise<NetworkRecord> {
  if (o.name !== undefined && (!NAME_RE.test(o.name) || o.name.length > 200)) {
    throw new TspodError('invalid-argument', `network name ${o.name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument`);
  }
  if (o.name && BUILTIN.includes(o.name)) {
    throw new TspodError('invalid-argument', `cannot create network with name "${o.name}" because it conflicts with a valid network mode`);
  }
  if (o.gateway && !o.subnet) throw new TspodError('invalid-argument', 'cannot set gateway without subnet');
  return store.withStoreLock(() => {
    const idx = readIndex(store);
    const existing = o.name ? idx.items.find((n) => n.name === o.name) : undefined;
    if (existing) {
      if (o.ignore) return existing;
      throw new TspodError('exists', `network name ${o.name} already used: network already exists`);
    }
    let name = o.name;
    if (!name) {
      for (let i = 1; ; i++) {
        if (!idx.items.some((n) => n.name === `podman${i}`)) {
          name = `podman${i}`;
          break;
        }
      }
    }
    let subnet: string;
    if (o.subnet) {
      const { base, prefix } = parseCidr(o.subnet);
      subnet = `${numToIp(base)}/${prefix}`;
      const clash = idx.items.find((n) => n.subnets.some((s) => overlaps(s.subnet, subnet)));
      if (clash) throw new TspodError('invalid-argument', `subnet ${subnet} is already used on the host or by another config`);
    } else {
      let found: string | undefined;
      for (let i = 1; i < 256 && !found; i++) {
        const c = `10.89.${i}.0/24`;
        if (!idx.items.some((n) => n.subnets.some((s) => overlaps(s.subnet, c)))) found = c;
      }
      if (!found) throw new TspodError('invalid-argument', 'could not find free subnet from subnet pools');
      subnet = found;
    }
    const { base, prefix } = parseCidr(subnet);
    let gateway = numToIp(base + 1);
    if (o.gateway) {
      const g = ipToNum(o.gateway);
      if (g <= base || g >= base + 2 ** (32 - prefix) - 1) throw new TspodError('invalid-argument', `gateway ${o.gateway} not in subnet ${subnet}`);
      gateway = o.gateway;
    }
    let iface = '';
    for (let i = 1; ; i++) {
      if (!idx.items.some((n) => n.network_interface === `tspod${i}`)) {
        iface = `tspod${i}`;
        break;
      }
    }
    const rec: NetworkRecord = {
      name,
      id: randomBytes(32).toString('hex'),
      driver: 'bridge',
      network_interface: iface,
      created: new Date().toISOString(),
      subnets: [{ subnet, gateway }],
      ipv6_enabled: false,
      internal: o.internal,
      dns_enabled: false,
      labels: { ...o.labels },
      ipam_options: { driver: 'host-local' },
      allocations: {},
    };
    idx.items.push(rec);
    writeIndex(store, idx);
    return rec;
  });
}

/** What inspect and ls --format json show (podman's netavark JSON, without our allocations). */
export function toInspect(n: NetworkRecord): Record<string, unknown> {
  const { allocations: _a, ...rest } = n;
  return rest;
}

export function matchesFilters(n: NetworkRecord, filters: string[]): boolean {
  for (const f of filters) {
    const eq = f.indexOf('=');
    const k = eq === -1 ? f : f.slice(0, eq);
    const v = eq === -1 ? '' : f.slice(eq + 1);
    switch (k) {
      case 'name':
        if (!new RegExp(v).test(n.name)) return false;
        break;
      case 'id':
        if (!n.id.startsWith(v)) return false;
        break;
      case 'driver':
        if (n.driver !== v) return false;
        break;
      case 'label': {
        const [lk = '', lv] = v.split(/=(.*)/s);
        if (!(lk in n.labels) || (lv !== undefined && n.labels[lk] !== lv)) return false;
        break;
      }
      default:
        throw new TspodError('invalid-argument', `invalid filter "${k}"`);
    }
  }
  return true;
}

/**
 * Removes a network. In use → error (exit 2, as podman) unless force, which first removes the
 * containers through `removeContainer`.
 */
export async function removeNetwork(store: Store, cs: ContainerStore, key: string, o: { force: boolean; removeContainer: (id: string) => Promise<unknown> }): Promise<string> {
  const n = getNetwork(store, key);
  const users = networkUsers(cs, n.name);
  if (users.length && !o.force) {
    throw new TspodError('exists', `"${n.name}" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used`, { exitCode: 2 });
  }
  for (const c of users) await o.removeContainer(c.id);
  await store.withStoreLock(async () => {
    const idx = readIndex(store);
    idx.items = idx.items.filter((x) => x.id !== n.id);
    writeIndex(store, idx);
    await removeBridge(store.runRoot, n.network_interface);
    if (idx.items.length === 0) await removeSharedNetns(store.runRoot);
  });
  return n.name;
}

/** Networks without containers are removed; returns their names. */
export async function pruneNetworks(store: Store, cs: ContainerStore, filters: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const n of listNetworks(store)) {
    if (!matchesFilters(n, filters.filter((f) => !f.startsWith('until')))) continue;
    if (networkUsers(cs, n.name).length) continue;
    out.push(await removeNetwork(store, cs, n.name, { force: false, removeContainer: async () => {} }));
  }
  return out;
}

function requireStopped(c: ContainerRecord, verb: string): void {
  if (c.state.status === 'running' || c.state.status === 'paused') {
    throw new TspodError('unsupported', `cannot ${verb} running container ${c.name}: tspod can only ${verb} stopped containers`, { hint: 'Stop the container first' });
  }
}

/** network connect (stopped containers; the change takes effect at the next start). */
export async function connectNetwork(store: Store, cs: ContainerStore, netKey: string, c: ContainerRecord, aliases: string[]): Promise<void> {
  const n = getNetwork(store, netKey);
  requireStopped(c, 'connect');
  if (!isUserNetworkMode(c.config.network) && !['slirp4netns', 'pasta', 'none'].includes(c.config.network.split(':')[0]!)) {
    throw new TspodError('invalid-argument', `container ${c.name} uses --network ${c.config.network}: it cannot be connected to a network`);
  }
  for (const a of aliases) if (!NAME_RE.test(a)) throw new TspodError('invalid-argument', `invalid network alias "${a}"`);
  await cs.modify(c.id, (r) => {
    const cur = isUserNetworkMode(r.config.network) ? parseUserMode(r.config.network) : { networks: [], aliases: [] };
    if (cur.networks.includes(n.name)) throw new TspodError('exists', `container ${r.id} is already connected to network "${n.name}"`);
    r.config.network = formatUserMode({ networks: [...cur.networks, n.name], aliases: [...new Set([...cur.aliases, ...aliases])] });
  });
}

export async function disconnectNetwork(store: Store, cs: ContainerStore, netKey: string, c: ContainerRecord): Promise<void> {
  const n = getNetwork(store, netKey);
  requireStopped(c, 'disconnect');
  await cs.modify(c.id, (r) => {
    const cur = isUserNetworkMode(r.config.network) ? parseUserMode(r.config.network) : undefined;
    if (!cur || !cur.networks.includes(n.name)) throw new TspodError('invalid-argument', `container ${r.id} is not connected to network ${n.name}`);
    const rest = cur.networks.filter((x) => x !== n.name);
    // The last one gone: podman leaves the container with no network (loopback only).
    r.config.network = rest.length ? formatUserMode({ networks: rest, aliases: cur.aliases }) : 'none';
  });
}

// ---- start ------------------------------------------------------------------------------------

/** Allocates (or finds) the container's address on each network; drops allocations of removed containers. */
function allocate(store: Store, cs: ContainerStore, rec: ContainerRecord, names: string[]): Promise<Array<{ net: NetworkRecord; ip: string }>> {
  return store.withStoreLock(() => {
    const idx = readIndex(store);
    const live = new Set(cs.list().map((c) => c.id));
    const out: Array<{ net: NetworkRecord; ip: string }> = [];
    for (const name of names) {
      const net = idx.items.find((n) => n.name === name);
      if (!net) throw notFound(name);
      for (const id of Object.keys(net.allocations)) if (!live.has(id)) delete net.allocations[id];
      let ip = net.allocations[rec.id];
      if (!ip) {
        const { base, prefix } = parseCidr(net.subnets[0]!.subnet);
        const used = new Set([...Object.values(net.allocations), net.subnets[0]!.gateway]);
        for (let x = base + 2; x < base + 2 ** (32 - prefix) - 1; x++) {
          if (!used.has(numToIp(x))) {
            ip = numToIp(x);
            break;
          }
        }
        if (!ip) throw new TspodError('network', `no free IP address left in network ${name}`);
        net.allocations[rec.id] = ip;
      }
      out.push({ net, ip });
    }
    writeIndex(store, idx);
    return out;
  });
}

/** Reads a bind-mounted hosts file (regular file, no symlink, capped) and rewrites it in place. */
function rewriteInPlace(path: string, edit: (old: string) => string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch {
    return;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return;
    const buf = Buffer.alloc(Math.min(st.size, 1 << 20));
    const n = buf.length ? readSync(fd, buf, 0, buf.length, 0) : 0;
    const next = Buffer.from(edit(buf.subarray(0, n).toString('utf8')));
    ftruncateSync(fd, 0);
    writeSync(fd, next, 0, next.length, 0);
  } finally {
    closeSync(fd);
  }
}

const MARK = '# tspod network peers';

/** /etc/hosts of every running member of the networks (and `self`): the peers' addresses and names. */
function updateHosts(store: Store, cs: ContainerStore, self: string, names: string[]): void {
  const idx = readIndex(store);
  const byId = new Map(cs.list().map((c) => [c.id, c]));
  const targets = new Set<string>([self]);
  for (const name of names) for (const c of networkUsers(cs, name)) if (c.state.status === 'running') targets.add(c.id);
  for (const id of targets) {
    const c = byId.get(id);
    if (!c || !isUserNetworkMode(c.config.network)) continue;
    const lines: string[] = [];
    for (const name of parseUserMode(c.config.network).networks) {
      const net = idx.items.find((n) => n.name === name);
      if (!net) continue;
      for (const [pid, ip] of Object.entries(net.allocations)) {
        const p = byId.get(pid);
        if (!p || !isUserNetworkMode(p.config.network)) continue;
        const aliases = parseUserMode(p.config.network).aliases;
        lines.push(`${ip}\t${[p.name, pid.slice(0, 12), ...aliases].join(' ')}`);
      }
    }
    rewriteInPlace(join(cs.dir(id), 'userdata', 'hosts'), (old) => {
      const at = old.indexOf(`${MARK}\n`);
      const head = at === -1 ? old : old.slice(0, at);
      return `${head}${MARK}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
    });
  }
}

/** planNetwork for a container on user-defined networks. */
export async function planUserNetworks(store: Store, cs: ContainerStore, rec: ContainerRecord, sockDir: string, portfwdPath: string): Promise<NetworkPlan> {
  const spec = parseUserMode(rec.config.network);
  const ports = rec.config.portMappings ?? [];
  if (ports.length) {
    // Rules an older tspod added on the shared slirp4netns (its cleanup never ran) hold their host ports.
    await releaseHostfwds(sockDir);
    const items = listNetworks(store);
    if (!spec.networks.some((name) => items.find((n) => n.name === name)?.internal === false)) {
      throw new TspodError('invalid-argument', `container ${rec.name} publishes ports but is only on internal networks: ports cannot reach it`, {
        hint: 'Connect it to a network created without --internal',
      });
    }
    await checkHostPorts(ports);
  }
  const allocs = await allocate(store, cs, rec, spec.networks);
  const shared = await store.withStoreLock(async () => {
    const ns = await ensureSharedNetns(store.runRoot, findExecutable('slirp4netns', process.env));
    for (const a of allocs) {
      const { prefix } = parseCidr(a.net.subnets[0]!.subnet);
      await ensureBridge(ns, { iface: a.net.network_interface, gateway: a.net.subnets[0]!.gateway, prefix, internal: a.net.internal });
    }
    return ns;
  });
  const netnsPath = join(sockDir, 'netns');
  const firstRouted = allocs.findIndex((a) => !a.net.internal);
  const atts: Attachment[] = allocs.map((a, i) => ({
    bridge: { iface: a.net.network_interface, gateway: a.net.subnets[0]!.gateway, prefix: parseCidr(a.net.subnets[0]!.subnet).prefix },
    ip: a.ip,
    ifname: `eth${i}`,
    peer: `tv${rec.id.slice(0, 10)}${i.toString(16)}`.slice(0, 15),
    defaultRoute: i === firstRouted,
  }));
  const routed = allocs[firstRouted];
  const helper: HelperCommand = { path: '/bin/sh', args: ['-c', 'printf x >&3', 'tspod-user-network', '{netns}', '{ready-fd}'], netnsPath };
  // Published ports: tspod-portfwd, started by the monitor beside that helper, connects from the
  // shared namespace to the container's address on its first non-internal network (routed there
  // through the bridge). It dies with the container (or its monitor), which frees the host ports.
  if (ports.length && routed) helper.portHelper = portHelper(portfwdPath, { netns: shared ?? sharedNetnsPath(store.runRoot), target: routed.ip, ports });
  return {
    mode: { kind: 'none' },
    spec: 'private',
    ports,
    // The monitor's two-step path needs a helper: this one only says "ready" (fd 3) and exits.
    helper,
    onNetworkUp: async () => {
      await attachContainer(shared ?? sharedNetnsPath(store.runRoot), netnsPath, atts);
      updateHosts(store, cs, rec.id, spec.networks);
    },
  };
}
