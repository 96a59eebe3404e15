// src/network: --network parsing, -p parsing and formatting, host port assignment and checks,
// /etc/hosts and resolv.conf, the helpers' command lines.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostsFile, resolvConf } from '../../src/network/etc.js';
import { addSharedHostfwds, HOSTFWD_FILE, helperCommand, releaseHostfwds } from '../../src/network/helper.js';
import { parseNetwork, slirpAddresses, SLIRP_DEFAULTS } from '../../src/network/mode.js';
import { portHelperError } from '../../src/network/portfwd.js';
import { assignHostPorts, checkHostPorts, formatPorts, parseExpose, parsePublish, portBindings } from '../../src/network/ports.js';

describe('parseNetwork', () => {
  it('defaults to the configured command; parses options', () => {
    expect(parseNetwork(undefined)).toEqual({ kind: 'slirp4netns', options: { ...SLIRP_DEFAULTS } });
    expect(parseNetwork('', 'pasta')).toEqual({ kind: 'pasta', args: [] });
    expect(parseNetwork('slirp4netns:allow_host_loopback=true,mtu=1500,cidr=10.5.0.0/24')).toEqual({
      kind: 'slirp4netns',
      options: { ...SLIRP_DEFAULTS, allowHostLoopback: true, mtu: 1500, cidr: '10.5.0.0/24' },
    });
    expect(parseNetwork('pasta:--map-gw,-T,8080')).toEqual({ kind: 'pasta', args: ['--map-gw', '-T', '8080'] });
    expect(parseNetwork('container:abc')).toEqual({ kind: 'container', target: 'abc' });
    expect(parseNetwork('ns:/run/netns/x')).toEqual({ kind: 'ns', path: '/run/netns/x' });
    expect(parseNetwork('none')).toEqual({ kind: 'none' });
    expect(parseNetwork('host')).toEqual({ kind: 'host' });
  });

  it('refuses what it does not know', () => {
    expect(() => parseNetwork('mynet')).toThrow(/unable to find network with name or ID mynet/);
    expect(() => parseNetwork('slirp4netns:foo=1')).toThrow(/unknown slirp4netns option "foo"/);
    expect(() => parseNetwork('slirp4netns:allow_host_loopback=yes')).toThrow(/true or false/);
    expect(() => parseNetwork('slirp4netns:port_handler=proxy')).toThrow(/invalid slirp4netns port_handler "proxy"/);
    expect(() => parseNetwork('ns:relative')).toThrow(/absolute/);
    expect(() => parseNetwork('host:x')).toThrow();
  });

  it('slirp4netns addresses follow the cidr', () => {
    expect(slirpAddresses('10.0.2.0/24')).toEqual({ gateway: '10.0.2.2', dns: '10.0.2.3', guest: '10.0.2.100', prefix: 24 });
    expect(slirpAddresses('192.168.7.0/24').guest).toBe('192.168.7.100');
  });
});

describe('ports', () => {
  it('parses podman -p forms', () => {
    expect(parsePublish('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp', range: 1 }]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp', range: 1 }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp', range: 1 }]);
    expect(parsePublish('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp', range: 1 }]);
    expect(parsePublish('8000-8010:80-90')).toEqual([{ hostIp: '', hostPort: 8000, containerPort: 80, protocol: 'tcp', range: 11 }]);
    expect(parsePublish('0.0.0.0:53:53/tcp,udp').map((m) => m.protocol)).toEqual(['tcp', 'udp']);
    expect(parsePublish('[::1]:8080:80')).toEqual([{ hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp', range: 1 }]);
  });

  it('refuses bad -p values', () => {
    for (const bad of ['1:2:3:4', 'x', '80/sctpx', '99999:80', '8000-8001:80', '90-80', '300.1.1.1:80:80', '0:80']) {
      expect(() => parsePublish(bad), bad).toThrow();
    }
  });

  it('formats like podman ps and inspect', () => {
    const maps = [...parsePublish('8080:80'), ...parsePublish('127.0.0.1:9000-9001:90-91/udp')];
    expect(formatPorts(maps)).toBe('0.0.0.0:8080->80/tcp, 127.0.0.1:9000-9001->90-91/udp');
    expect(portBindings(maps, ['99/tcp'])).toEqual({
      '99/tcp': null,
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '90/udp': [{ HostIp: '127.0.0.1', HostPort: '9000' }],
      '91/udp': [{ HostIp: '127.0.0.1', HostPort: '9001' }],
    });
    expect(parseExpose('80-81/udp')).toEqual([{ port: 80, protocol: 'udp' }, { port: 81, protocol: 'udp' }]);
  });

  it('chooses free host ports and finds taken ones', async () => {
    const [m] = await assignHostPorts(parsePublish('127.0.0.1::80'));
    expect(m!.hostPort).toBeGreaterThan(0);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const taken = (srv.address() as { port: number }).port;
    try {
      await expect(checkHostPorts(parsePublish(`${taken}:80`))).rejects.toThrow(new RegExp(`listen tcp 0.0.0.0:${taken}: bind: address already in use`));
      await expect(checkHostPorts([m!])).resolves.toBeUndefined();
    } finally {
      srv.close();
    }
  });
});

describe('/etc files', () => {
  const read = (p: string): string => (p === '/etc/hosts' ? '127.0.0.1 localhost\n' : 'search corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0\n');
  const hostAddrs = { ip: '192.0.2.2', gateway: '192.0.2.1', routeIp: '192.0.2.2' };

  it('slirp4netns: own address, host.containers.internal, --add-host first', () => {
    const i = { dir: '/x', name: 'web', hostname: 'abc', mode: parseNetwork(undefined), addHost: ['db:10.1.1.1'], readHostFile: read, hostAddrs };
    expect(hostsFile(i)).toBe('10.1.1.1\tdb\n127.0.0.1 localhost\n192.0.2.2\thost.containers.internal\n10.0.2.100\tabc web\n');
    expect(hostsFile({ ...i, addHost: [], mode: parseNetwork('slirp4netns:allow_host_loopback=true') })).toContain('10.0.2.2\thost.containers.internal\n');
    // the loopback resolver is unreachable from the container: dropped; 10.0.2.3 first
    expect(resolvConf(i)).toBe('search corp.example\nnameserver 10.0.2.3\nnameserver 192.0.2.53\noptions edns0\n');
  });

  it('--dns, --dns-search, --dns-option replace the host values; host mode keeps loopback resolvers', () => {
    const i = { dir: '/x', name: 'n', hostname: 'n', mode: parseNetwork(undefined), readHostFile: read, hostAddrs, dns: ['9.9.9.9'], dnsSearch: ['a.test'], dnsOption: ['ndots:2'] };
    expect(resolvConf(i)).toBe('search a.test\nnameserver 9.9.9.9\noptions ndots:2\n');
    expect(resolvConf({ ...i, dns: [], dnsSearch: [], dnsOption: [], mode: parseNetwork('host') })).toContain('nameserver 127.0.0.53\n');
    expect(hostsFile(i)).toMatch(/^10\.0\.2\.100\tn\n$/m);
  });

  it('pasta: the container has the host address; host.containers.internal is the gateway only with --map-gw', () => {
    const i = { dir: '/x', name: 'n', hostname: 'h', mode: parseNetwork('pasta'), readHostFile: read, hostAddrs };
    expect(hostsFile(i)).toContain('192.0.2.2\thost.containers.internal\n192.0.2.2\th n\n');
    expect(hostsFile({ ...i, mode: parseNetwork('pasta:--map-gw') })).toContain('192.0.2.1\thost.containers.internal\n');
  });
});

describe('helper command lines', () => {
  it('slirp4netns: podman flags; ports through tspod-portfwd, or the API socket with port_handler=slirp4netns', () => {
    const mode = parseNetwork(undefined) as Extract<ReturnType<typeof parseNetwork>, { kind: 'slirp4netns' }>;
    const c = helperCommand(mode, { sockDir: '/r/s/x', ports: [], path: '/usr/bin/slirp4netns', portfwdPath: '/l/tspod-portfwd' });
    expect(c.args).toEqual(['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-ipv6', '--enable-sandbox', '--enable-seccomp', '--ready-fd={ready-fd}', '--netns-type=path', '{netns}', 'tap0']);
    expect(c.netnsPath).toBe('/r/s/x/netns');
    expect(c.portHelper).toBeUndefined();
    const ports = [...parsePublish('8080:80'), ...parsePublish('127.0.0.1:5000-5001:53-54/udp')];
    const p = helperCommand(mode, { sockDir: '/r/s/x', ports, path: '/usr/bin/slirp4netns', portfwdPath: '/l/tspod-portfwd' });
    expect(p.apiSocket).toBeUndefined();
    expect(p.args.join(' ')).not.toContain('--api-socket');
    expect(p.portHelper).toEqual({
      path: '/l/tspod-portfwd',
      args: ['--netns', '{netns}', '--target', '10.0.2.100', '--ready-fd', '{ready-fd}', '--map', 'tcp,,8080,80,1', '--map', 'udp,127.0.0.1,5000,53,2'],
    });
    const cidr = parseNetwork('slirp4netns:cidr=192.168.7.0/24') as typeof mode;
    expect(helperCommand(cidr, { sockDir: '/r/s/x', ports, path: 's', portfwdPath: 'f' }).portHelper?.args[3]).toBe('192.168.7.100');
    const viaSlirp = parseNetwork('slirp4netns:port_handler=slirp4netns') as typeof mode;
    const a = helperCommand(viaSlirp, { sockDir: '/r/s/x', ports, path: '/usr/bin/slirp4netns', portfwdPath: '/l/tspod-portfwd' });
    expect(a.apiSocket).toBe('/r/s/x/slirp.sock');
    expect(a.args).toContain('--api-socket=/r/s/x/slirp.sock');
    expect(a.portHelper).toBeUndefined();
    expect(parseNetwork('slirp4netns:port_handler=rootlesskit')).toEqual(parseNetwork('slirp4netns'));
  });

  it('pasta: no automatic forwarding, ports as -t/-u, user args last', () => {
    const mode = parseNetwork('pasta:--mtu,1500') as Extract<ReturnType<typeof parseNetwork>, { kind: 'pasta' }>;
    const c = helperCommand(mode, { sockDir: '/r/s/x', ports: [...parsePublish('127.0.0.1:8080:80'), ...parsePublish('5353:5353/udp')], path: 'pasta' });
    expect(c.args.join(' ')).toBe(
      '--config-net --foreground --quiet --pid {ready-file} --netns {netns} --netns-only -T none -U none --no-map-gw -t 127.0.0.1/8080:80 -u 5353:5353 --mtu 1500',
    );
  });

  it('pasta: "none" for a direction only when the user gave none of its options (as podman)', () => {
    const cmd = (v: string, ports: string[] = []): string =>
      helperCommand(parseNetwork(v) as Extract<ReturnType<typeof parseNetwork>, { kind: 'pasta' }>, { sockDir: '/r/s/x', ports: ports.flatMap(parsePublish), path: 'pasta' })
        .args.slice(8)
        .join(' ');
    expect(cmd('pasta')).toBe('-T none -U none --no-map-gw -t none -u none');
    expect(cmd('pasta:-T,5000')).toBe('-U none --no-map-gw -t none -u none -T 5000');
    expect(cmd('pasta:--udp-ns=53')).toBe('-T none --no-map-gw -t none -u none --udp-ns=53');
    expect(cmd('pasta:-T5000,-U,53')).toBe('--no-map-gw -t none -u none -T5000 -U 53');
    expect(cmd('pasta:-t,9000')).toBe('-T none -U none --no-map-gw -u none -t 9000');
    expect(cmd('pasta:--udp-ports,9000', ['8080:80'])).toBe('-T none -U none --no-map-gw -t 8080:80 --udp-ports 9000');
    expect(cmd('pasta:--map-gw,-u,7000,-t,auto')).toBe('-T none -U none -u 7000 -t auto');
  });
});

describe('published ports on the shared slirp4netns (user networks)', () => {
  /** A stand-in for slirp4netns's API socket: one JSON request per connection. */
  async function fakeSlirp(dir: string): Promise<{ socket: string; rules: Map<number, Record<string, unknown>>; close: () => Promise<void> }> {
    const socket = join(dir, 'api.sock');
    const rules = new Map<number, Record<string, unknown>>();
    let next = 1;
    const srv = createServer((c) => {
      let buf = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (buf += d));
      c.on('end', () => {
        const req = JSON.parse(buf) as { execute: string; arguments?: Record<string, unknown> };
        let res: unknown = { return: {} };
        if (req.execute === 'add_hostfwd') {
          if ([...rules.values()].some((r) => r.host_port === req.arguments!.host_port)) res = { error: { desc: 'bad request: add_hostfwd: slirp_add_hostfwd failed' } };
          else {
            const id = next++;
            rules.set(id, { id, ...req.arguments });
            res = { return: { id } };
          }
        } else if (req.execute === 'list_hostfwd') res = { entries: [...rules.values()] };
        else if (req.execute === 'remove_hostfwd') rules.delete(req.arguments!.id as number);
        c.end(JSON.stringify(res));
      });
    });
    await new Promise<void>((r) => srv.listen(socket, r));
    return { socket, rules, close: () => new Promise((r) => srv.close(() => r())) };
  }

  it('adds rules to the container address, records them, and removes exactly those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tspod-hostfwd-'));
    const slirp = await fakeSlirp(dir);
    try {
      await addSharedHostfwds(dir, slirp.socket, '10.89.1.2', [...parsePublish('8080-8081:80-81'), ...parsePublish('127.0.0.1:5353:53/udp')]);
      expect([...slirp.rules.values()]).toEqual([
        { id: 1, proto: 'tcp', host_addr: '0.0.0.0', host_port: 8080, guest_addr: '10.89.1.2', guest_port: 80 },
        { id: 2, proto: 'tcp', host_addr: '0.0.0.0', host_port: 8081, guest_addr: '10.89.1.2', guest_port: 81 },
        { id: 3, proto: 'udp', host_addr: '127.0.0.1', host_port: 5353, guest_addr: '10.89.1.2', guest_port: 53 },
      ]);
      expect(existsSync(join(dir, HOSTFWD_FILE))).toBe(true);
      // Rule 2 now forwards elsewhere (as after a slirp4netns restart): it is not ours to remove.
      slirp.rules.set(2, { ...slirp.rules.get(2)!, guest_addr: '10.89.9.9' });
      await releaseHostfwds(dir);
      expect([...slirp.rules.keys()]).toEqual([2]);
      expect(existsSync(join(dir, HOSTFWD_FILE))).toBe(false);
      await releaseHostfwds(dir); // nothing recorded: nothing to do
    } finally {
      await slirp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a busy host port fails; the rules added before it are recorded for removal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tspod-hostfwd-'));
    const slirp = await fakeSlirp(dir);
    try {
      slirp.rules.set(99, { id: 99, proto: 'tcp', host_addr: '0.0.0.0', host_port: 9001, guest_addr: '10.89.2.2', guest_port: 80 });
      await expect(addSharedHostfwds(dir, slirp.socket, '10.89.1.2', parsePublish('9000-9001:80-81'))).rejects.toThrow(/cannot publish port 9001\/tcp/);
      expect(slirp.rules.size).toBe(2);
      await releaseHostfwds(dir);
      expect([...slirp.rules.keys()]).toEqual([99]);
    } finally {
      await slirp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tspod-portfwd errors', () => {
  const path = '/l/build/tspod-portfwd';
  it("a port it could not bind: podman's message, address-in-use", () => {
    const e = portHelperError(path, `${path} exited before it was ready: cannot publish port 8080/tcp: listen tcp 0.0.0.0:8080: bind: address already in use`);
    expect(e?.code).toBe('address-in-use');
    expect(e?.message).toBe('cannot publish port 8080/tcp: listen tcp 0.0.0.0:8080: bind: address already in use');
    expect(e?.hint).toMatch(/another host port/);
    const v6 = portHelperError(path, `${path} exited before it was ready: cannot publish port 53/udp: listen udp [::1]:53: bind: permission denied`);
    expect(v6?.message).toBe('cannot publish port 53/udp: listen udp [::1]:53: bind: permission denied');
    expect(v6?.hint).toMatch(/ip_unprivileged_port_start/);
  });
  it('other failures are network errors; messages of other programs are not its', () => {
    const e = portHelperError(path, `${path} exited before it was ready: tspod-portfwd: setns \`/x\`: Operation not permitted`);
    expect(e?.code).toBe('network');
    expect(e?.message).toBe('publishing ports: tspod-portfwd: setns `/x`: Operation not permitted');
    expect(portHelperError(path, `${path} did not become ready in time`)?.message).toBe('publishing ports: tspod-portfwd: failed');
    expect(portHelperError(path, '/usr/bin/slirp4netns exited before it was ready: x')).toBeUndefined();
  });
});
