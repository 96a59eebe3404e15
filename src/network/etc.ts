// /etc/hosts, /etc/resolv.conf and /etc/hostname for a container, written into its userdata
// directory and bind-mounted by the runtime. Regenerated at every start from the same inputs, so
// they are stable across restarts. Shapes follow podman 4.3:
//   hosts: --add-host entries, the host's /etc/hosts (containers.conf base_hosts_file), then
//          host.containers.internal and the container's own address with its hostname and name.
//   resolv.conf: slirp4netns's DNS forwarder first, then the host's servers (--dns replaces all);
//          search and options from the host unless --dns-search / --dns-option.
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { slirpAddresses, type NetworkMode } from './mode.js';

export interface EtcInput {
  /** The container's userdata directory. */
  dir: string;
  name: string;
  hostname: string;
  mode: NetworkMode;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  /** containers.conf [containers] base_hosts_file: '' = /etc/hosts, 'none' = none. */
  baseHostsFile?: string;
  /** Test seams. */
  readHostFile?: (path: string) => string;
  hostAddrs?: HostAddrs;
}

export interface HostAddrs {
  /** The host's first non-loopback IPv4 address. */
  ip?: string;
  /** The default IPv4 gateway and the address of its interface. */
  gateway?: string;
  routeIp?: string;
}

function readOr(path: string, read: (p: string) => string): string {
  try {
    return read(path);
  } catch {
    return '';
  }
}

/** The host's addresses, from /proc/net/route and the interfaces (we run in the host's network namespace). */
export function hostAddrs(): HostAddrs {
  const ifs = networkInterfaces();
  const v4 = (name: string): string | undefined => ifs[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  let ip: string | undefined;
  for (const name of Object.keys(ifs)) {
    ip ??= v4(name);
  }
  const out: HostAddrs = { ip };
  for (const line of readOr('/proc/net/route', (p) => readFileSync(p, 'utf8')).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || f[1] !== '00000000') continue;
    const g = Number.parseInt(f[2]!, 16);
    out.gateway = [0, 8, 16, 24].map((s) => (g >>> s) & 255).join('.');
    out.routeIp = v4(f[0]!) ?? ip;
    break;
  }
  return out;
}

/** --add-host HOST:IP (also HOST=IP); `host-gateway` is host.containers.internal's address. */
export function parseAddHost(spec: string): { host: string; ip: string } {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(spec);
  if (!m) throw new TspodError('invalid-argument', `invalid --add-host "${spec}": use HOST:IP`);
  const ip = m[2]!.replace(/^\[(.*)\]$/, '$1');
  if (ip !== 'host-gateway' && !/^[0-9a-fA-F.:]+$/.test(ip)) throw new TspodError('invalid-argument', `invalid IP address "${ip}" in --add-host "${spec}"`);
  return { host: m[1]!, ip };
}

/** host.containers.internal and the container's own address, per mode. */
function addresses(mode: NetworkMode, h: HostAddrs): { hostInternal?: string; self: string } {
  switch (mode.kind) {
    case 'slirp4netns': {
      const a = slirpAddresses(mode.options.cidr);
      // Without allow_host_loopback, 10.0.2.2 leads nowhere: podman names the host's own address.
      return { hostInternal: mode.options.allowHostLoopback ? a.gateway : h.ip, self: a.guest };
    }
    case 'pasta':
      // pasta copies the host's address into the container, so that address is the container's
      // own. With --map-gw pasta maps the gateway address to the host; without it (the default, as
      // podman 4.4) podman names the host's address, and so do we.
      return { hostInternal: mode.args.includes('--map-gw') ? (h.gateway ?? h.ip) : h.ip, self: h.routeIp ?? h.ip ?? '127.0.1.1' };
    default:
      return { self: '127.0.1.1' };
  }
}

export function hostsFile(i: EtcInput): string {
  const read = i.readHostFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const h = i.hostAddrs ?? (i.mode.kind === 'slirp4netns' || i.mode.kind === 'pasta' ? hostAddrs() : {});
  const { hostInternal, self } = addresses(i.mode, h);
  const lines: string[] = [];
  for (const a of i.addHost ?? []) {
    const { host, ip } = parseAddHost(a);
    lines.push(`${ip === 'host-gateway' ? (hostInternal ?? h.ip ?? '127.0.0.1') : ip}\t${host}`);
  }
  const base = i.baseHostsFile === 'none' ? '' : readOr(i.baseHostsFile || '/etc/hosts', read);
  const baseLines = base.split('\n').filter((l) => l.trim() !== '');
  if (baseLines.length) lines.push(...baseLines);
  else lines.push('127.0.0.1\tlocalhost localhost.localdomain', '::1\tlocalhost localhost.localdomain');
  if (hostInternal) lines.push(`${hostInternal}\thost.containers.internal`);
  const names = i.hostname === i.name ? i.name : `${i.hostname} ${i.name}`;
  lines.push(`${self}\t${names}`);
  return `${lines.join('\n')}\n`;
}

export function resolvConf(i: EtcInput): string {
  const read = i.readHostFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const host = readOr('/etc/resolv.conf', read).split('\n');
  const pick = (key: string): string[] =>
    host
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[0] === key)
      .flatMap((f) => f.slice(1));
  let servers: string[];
  if (i.dns && i.dns.length) servers = [...i.dns];
  else {
    // In a network namespace of its own, the host's loopback resolvers are out of reach.
    const own = i.mode.kind !== 'host';
    servers = pick('nameserver').filter((s) => !own || !/^(127\.|::1$)/.test(s));
    if (i.mode.kind === 'slirp4netns') servers.unshift(slirpAddresses(i.mode.options.cidr).dns);
  }
  const search = i.dnsSearch && i.dnsSearch.length ? i.dnsSearch.filter((s) => s !== '.') : pick('search');
  const options = i.dnsOption && i.dnsOption.length ? i.dnsOption : pick('options');
  let out = '';
  if (search.length) out += `search ${search.join(' ')}\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}

/** Writes the three files into the userdata directory; returns their paths for the spec. */
export function writeEtcFiles(i: EtcInput): { hosts: string; resolvConf: string; hostname: string } {
  const hosts = join(i.dir, 'hosts');
  const resolv = join(i.dir, 'resolv.conf');
  const hn = join(i.dir, 'hostname');
  writeFileSync(hosts, hostsFile(i));
  writeFileSync(resolv, resolvConf(i));
  writeFileSync(hn, `${i.hostname}\n`);
  return { hosts, resolvConf: resolv, hostname: hn };
}
