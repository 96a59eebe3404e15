// Published ports: parsing -p/--publish and --expose, choosing random host ports, checking that the
// host ports are free before a container starts, and the text podman shows for them.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { TspodError } from '../errors.js';

export type Protocol = 'tcp' | 'udp';

/** One -p: podman's PortMapping. `range` ports starting at hostPort map to those at containerPort. */
export interface PortMapping {
  /** '' = every address (0.0.0.0). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
  range: number;
}

/** A parsed -p whose host port may still be unchosen (0). */
export type PortRequest = PortMapping;

function port(s: string, spec: string): number {
  if (!/^\d+$/.test(s)) throw new TspodError('invalid-argument', `invalid port "${s}" in "${spec}"`, { hint: 'Use -p [[ip:][hostPort]:]containerPort[/tcp|udp]' });
  const n = Number(s);
  if (n < 1 || n > 65535) throw new TspodError('invalid-argument', `invalid port ${s} in "${spec}": ports are 1..65535`);
  return n;
}

function portRange(s: string, spec: string): [number, number] {
  const dash = s.indexOf('-');
  if (dash === -1) {
    const p = port(s, spec);
    return [p, 1];
  }
  const a = port(s.slice(0, dash), spec);
  const b = port(s.slice(dash + 1), spec);
  if (b < a) throw new TspodError('invalid-argument', `invalid port range "${s}" in "${spec}": the end is below the start`);
  return [a, b - a + 1];
}

function protocols(s: string | undefined, spec: string): Protocol[] {
  if (s === undefined || s === '') return ['tcp'];
  const out: Protocol[] = [];
  for (const p of s.split(',')) {
    if (p !== 'tcp' && p !== 'udp') throw new TspodError('invalid-argument', `invalid protocol "${p}" in "${spec}"`, { hint: 'Use tcp or udp' });
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((x) => Number(x) <= 255);
}

/**
 * -p [[ip:][hostPort]:]containerPort[-end][/proto]: `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`,
 * `8000-8010:80-90/udp`, `80` (random host port). IPv6 host addresses go in brackets.
 */
export function parsePublish(spec: string): PortRequest[] {
  const slash = spec.lastIndexOf('/');
  const body = slash === -1 ? spec : spec.slice(0, slash);
  const protos = protocols(slash === -1 ? undefined : spec.slice(slash + 1), spec);
  let hostIp = '';
  let rest = body;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(body);
  if (v6) {
    hostIp = v6[1]!;
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (!v6 && parts.length === 3) {
    [hostIp, hostPart, ctrPart] = parts as [string, string, string];
    if (!isIp(hostIp)) throw new TspodError('invalid-argument', `invalid IP address "${hostIp}" in "${spec}"`);
  } else if (parts.length === 2) {
    [hostPart, ctrPart] = parts as [string, string];
  } else if (parts.length === 1 && !v6) {
    ctrPart = parts[0]!;
  } else {
    throw new TspodError('invalid-argument', `invalid port format "${spec}"`, { hint: 'Use -p [[ip:][hostPort]:]containerPort[/tcp|udp]' });
  }
  if (hostIp === '0.0.0.0') hostIp = '';
  const [cp, crange] = portRange(ctrPart, spec);
  let hp = 0;
  if (hostPart !== '') {
    const [h, hrange] = portRange(hostPart, spec);
    if (hrange !== crange) {
      throw new TspodError('invalid-argument', `invalid port format "${spec}": the host and container port ranges must have the same length`);
    }
    hp = h;
  }
  if (cp + crange - 1 > 65535 || hp + crange - 1 > 65535) throw new TspodError('invalid-argument', `invalid port range in "${spec}"`);
  return protos.map((protocol) => ({ hostIp, hostPort: hp, containerPort: cp, protocol, range: crange }));
}

/** --expose PORT[-END][/proto] and image ExposedPorts keys ("80/tcp"): the container ports. */
export function parseExpose(spec: string): Array<{ port: number; protocol: Protocol }> {
  const [p, proto] = spec.split('/') as [string, string | undefined];
  const [start, n] = portRange(p, spec);
  const out: Array<{ port: number; protocol: Protocol }> = [];
  for (const protocol of protocols(proto, spec)) for (let i = 0; i < n; i++) out.push({ port: start + i, protocol });
  return out;
}

type Probe = (ip: string, port: number, proto: Protocol) => Promise<NodeJS.ErrnoException | undefined>;

/** Tries to bind ip:port (then releases it): the error if that is not possible. */
export const probeBind: Probe = (ip, port, proto) =>
  new Promise((resolve) => {
    const host = ip || '0.0.0.0';
    if (proto === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', (e) => {
        s.close();
        resolve(e as NodeJS.ErrnoException);
      });
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(undefined)));
      return;
    }
    const srv = createServer();
    srv.once('error', (e) => resolve(e as NodeJS.ErrnoException));
    srv.listen({ host, port, exclusive: true, backlog: 1 }, () => srv.close(() => resolve(undefined)));
  });

/** A port the kernel picks as free (bound to port 0, then released). */
async function randomPort(ip: string, proto: Protocol): Promise<number> {
  const host = ip || '0.0.0.0';
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind({ address: host, port: 0, exclusive: true }, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Gives every request without a host port a free one (a free run of ports for a range). */
export async function assignHostPorts(reqs: PortRequest[], probe: Probe = probeBind): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const taken = (ip: string, p: number, proto: Protocol): boolean =>
    out.some((m) => m.protocol === proto && (m.hostIp === ip || !m.hostIp || !ip) && p >= m.hostPort && p < m.hostPort + m.range);
  for (const r of reqs) {
    if (r.hostPort !== 0) {
      out.push({ ...r });
      continue;
    }
    let chosen = 0;
    for (let attempt = 0; attempt < 50 && !chosen; attempt++) {
      const base = await randomPort(r.hostIp, r.protocol);
      if (base + r.range - 1 > 65535) continue;
      let ok = true;
      for (let i = 0; i < r.range && ok; i++) {
        if (taken(r.hostIp, base + i, r.protocol)) ok = false;
        else if (i > 0 && (await probe(r.hostIp, base + i, r.protocol))) ok = false;
      }
      if (ok) chosen = base;
    }
    if (!chosen) throw new TspodError('address-in-use', `no free host ports for ${formatMapping({ ...r, hostPort: 0 })}`);
    out.push({ ...r, hostPort: chosen });
  }
  return out;
}

/** Fails with podman's message when a host port cannot be bound. Before anything is started. */
export async function checkHostPorts(maps: PortMapping[], probe: Probe = probeBind): Promise<void> {
  for (const m of maps) {
    for (let i = 0; i < m.range; i++) {
      const hp = m.hostPort + i;
      const e = await probe(m.hostIp, hp, m.protocol);
      if (!e) continue;
      const addr = `${m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp || '0.0.0.0'}:${hp}`;
      const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : e.message;
      throw new TspodError('address-in-use', `cannot publish port ${hp}/${m.protocol}: listen ${m.protocol} ${addr}: bind: ${why}`, {
        hint: e.code === 'EACCES' ? 'Rootless containers can only publish ports >= net.ipv4.ip_unprivileged_port_start' : 'Choose another host port, or stop what listens there',
      });
    }
  }
}

/** Expands ranges into single ports, in order. */
export function expandPorts(maps: PortMapping[]): Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: Protocol }> {
  const out: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: Protocol }> = [];
  for (const m of maps) for (let i = 0; i < m.range; i++) out.push({ hostIp: m.hostIp, hostPort: m.hostPort + i, containerPort: m.containerPort + i, protocol: m.protocol });
  return out;
}

/** podman ps: `0.0.0.0:8080->80/tcp`, `127.0.0.1:8000-8010->80-90/udp`, joined with ", ". */
export function formatMapping(m: PortMapping): string {
  const ip = m.hostIp ? (m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp) : '0.0.0.0';
  const range = (p: number): string => (m.range > 1 ? `${p}-${p + m.range - 1}` : String(p));
  return `${ip}:${range(m.hostPort)}->${range(m.containerPort)}/${m.protocol}`;
}

export function formatPorts(maps: PortMapping[] | undefined): string {
  return (maps ?? []).map(formatMapping).join(', ');
}

/** inspect's NetworkSettings.Ports / HostConfig.PortBindings: {"80/tcp": [{HostIp, HostPort}]}; exposed-only ports map to null. */
export function portBindings(maps: PortMapping[] | undefined, exposed: string[] = []): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const e of exposed) for (const p of parseExpose(e)) out[`${p.port}/${p.protocol}`] ??= null;
  for (const p of expandPorts(maps ?? [])) {
    const k = `${p.containerPort}/${p.protocol}`;
    (out[k] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}
