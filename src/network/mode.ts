// --network values: what the user may write, and the canonical string stored in the container's
// record (ContainerConfig.network), parsed again at every start.
//
//   slirp4netns[:k=v,...]  user-mode network through slirp4netns (the rootless default, as podman)
//   pasta[:arg,...]        user-mode network through pasta; the args are passed to pasta as given
//   none                   a network namespace with loopback only
//   host                   the host's network namespace
//   container:<name|id>    the network namespace of another (running) container
//   ns:<path>              a network namespace file
import { TspodError } from '../errors.js';

export interface SlirpOptions {
  allowHostLoopback: boolean;
  mtu: number;
  /** IPv4 network of the guest side, e.g. 10.0.2.0/24: .2 gateway (the host), .3 DNS, .100 the container. */
  cidr: string;
  enableIpv6: boolean;
  outboundAddr?: string;
  outboundAddr6?: string;
  /** port_handler=slirp4netns: published ports through slirp4netns's own API (default: tspod-portfwd, podman's rootlesskit). */
  portHandler?: 'slirp4netns';
}

export type NetworkMode =
  | { kind: 'slirp4netns'; options: SlirpOptions }
  | { kind: 'pasta'; args: string[] }
  | { kind: 'none' }
  | { kind: 'host' }
  | { kind: 'container'; target: string }
  | { kind: 'ns'; path: string };

export const SLIRP_DEFAULTS: Readonly<SlirpOptions> = Object.freeze({ allowHostLoopback: false, mtu: 65520, cidr: '10.0.2.0/24', enableIpv6: true });

function bool(k: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new TspodError('invalid-argument', `slirp4netns option ${k} must be true or false, got "${v}"`);
}

function parseSlirp(opts: string): SlirpOptions {
  const o: SlirpOptions = { ...SLIRP_DEFAULTS };
  for (const kv of opts.split(',').filter(Boolean)) {
    const eq = kv.indexOf('=');
    const k = eq === -1 ? kv : kv.slice(0, eq);
    const v = eq === -1 ? '' : kv.slice(eq + 1);
    switch (k) {
      case 'allow_host_loopback':
        o.allowHostLoopback = bool(k, v);
        break;
      case 'enable_ipv6':
        o.enableIpv6 = bool(k, v);
        break;
      case 'mtu': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 68 || n > 65521) throw new TspodError('invalid-argument', `invalid slirp4netns mtu "${v}": 68..65521`);
        o.mtu = n;
        break;
      }
      case 'cidr': {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
        if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 25 || Number(m[5]) < 8) {
          throw new TspodError('invalid-argument', `invalid slirp4netns cidr "${v}"`, { hint: 'Use an IPv4 network such as 10.0.2.0/24 (prefix 8..25)' });
        }
        o.cidr = v;
        break;
      }
      case 'outbound_addr':
        o.outboundAddr = v;
        break;
      case 'outbound_addr6':
        o.outboundAddr6 = v;
        break;
      case 'port_handler':
        if (v === 'slirp4netns') o.portHandler = 'slirp4netns';
        else if (v === 'rootlesskit') delete o.portHandler;
        else throw new TspodError('invalid-argument', `invalid slirp4netns port_handler "${v}"`, { hint: 'Use rootlesskit (the default: tspod-portfwd) or slirp4netns' });
        break;
      default:
        throw new TspodError('invalid-argument', `unknown slirp4netns option "${k}"`, {
          hint: 'Options: allow_host_loopback, cidr, enable_ipv6, mtu, outbound_addr, outbound_addr6, port_handler',
        });
    }
  }
  return o;
}

/** Parses a --network value; `defaultCmd` is containers.conf's default_rootless_network_cmd. */
export function parseNetwork(value: string | undefined, defaultCmd = 'slirp4netns'): NetworkMode {
  let v = value ?? '';
  if (v === '' || v === 'private' || v === 'default') v = defaultCmd;
  const colon = v.indexOf(':');
  const head = colon === -1 ? v : v.slice(0, colon);
  const rest = colon === -1 ? '' : v.slice(colon + 1);
  switch (head) {
    case 'slirp4netns':
      return { kind: 'slirp4netns', options: parseSlirp(rest) };
    case 'pasta':
      return { kind: 'pasta', args: rest === '' ? [] : rest.split(',') };
    case 'none':
    case 'host':
      if (rest) break;
      return { kind: head };
    case 'container':
      if (!rest) throw new TspodError('invalid-argument', '--network container: needs a container name or ID');
      return { kind: 'container', target: rest };
    case 'ns':
      if (!rest.startsWith('/')) throw new TspodError('invalid-argument', `--network ns: needs an absolute path, got "${rest}"`);
      return { kind: 'ns', path: rest };
    case 'bridge':
      throw new TspodError('unsupported', '--network bridge is not supported: tspod has no default bridge network', {
        hint: 'Create one with `tspod network create NAME` and use --network NAME, or use slirp4netns (the default), pasta, host, none, container:NAME or ns:PATH',
      });
  }
  throw new TspodError('invalid-argument', `unable to find network with name or ID ${v}: network not found`, {
    hint: 'Use --network slirp4netns (the default), pasta, host, none, container:NAME or ns:PATH',
  });
}

/** Whether the mode gives the container a network namespace of its own with a helper behind it. */
export function hasHelper(m: NetworkMode): m is Extract<NetworkMode, { kind: 'slirp4netns' | 'pasta' }> {
  return m.kind === 'slirp4netns' || m.kind === 'pasta';
}

/** Whether -p can be used with the mode (podman: only with a network of the container's own). */
export function canPublish(m: NetworkMode): boolean {
  return hasHelper(m);
}

/** IPv4 arithmetic for the slirp4netns network. */
export function slirpAddresses(cidr: string): { gateway: string; dns: string; guest: string; prefix: number } {
  const [addr, len] = cidr.split('/') as [string, string];
  const n = addr.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const prefix = Number(len);
  const base = prefix === 0 ? 0 : Math.floor(n / 2 ** (32 - prefix)) * 2 ** (32 - prefix);
  const ip = (x: number): string => [24, 16, 8, 0].map((s) => Math.floor(x / 2 ** s) % 256).join('.');
  return { gateway: ip(base + 2), dns: ip(base + 3), guest: ip(base + 100), prefix };
}
