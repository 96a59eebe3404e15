// User-defined networks: network create/ls/inspect/exists/rm/prune/connect/disconnect, and
// containers on the same network reaching each other by name and by --network-alias while a
// container on another network cannot reach them.
//
// The fixture image's busybox is static and its wget crashes (SIGSEGV) on this host, so the
// clients speak HTTP with `nc` (same resolver: /etc/hosts). All traffic stays inside the
// namespaces the test creates.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, TEST_USER, asUser, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';
import { canBind, freePort, get, udpEcho } from './net-helpers.js';

const store = storeFor('210-user-networks');
const A = 'alpine:3.15';
const NET_A = 'tsnet-a';
const NET_B = 'tsnet-b';

/** An HTTP GET with nc from a throwaway container on `net`; resolves to the shell's exit code and output. */
async function httpFrom(net: string, host: string): Promise<{ code: number; out: string }> {
  const script = `for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} 80 > /tmp/out 2>&1 && grep -q . /tmp/out && break; sleep 0.3; done; cat /tmp/out; grep -q 200 /tmp/out`;
  const r = await tspod(['run', '--rm', '--network', net, A, 'sh', '-c', script], { store });
  return { code: r.code, out: r.stdout };
}

/** Whether the host port becomes bindable within a few seconds. */
async function portFreed(port: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canBind(port)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}


/** tspod-portfwd processes of the test user whose command line names `key`. */
async function forwarders(key: string): Promise<string[]> {
  const r = await asUser('pgrep', ['-u', TEST_USER, '-a', '-f', `tspod-portfwd.*${key.replace(/[.]/g, '\\.')}`]);
  return r.stdout.split('\n').filter((l) => l && !/tspod-monitor|pgrep/.test(l));
}

const HOME = execFileSync('getent', ['passwd', TEST_USER], { encoding: 'utf8' }).split(':')[5]!;
const WORK = `${HOME}/e2e/210-user-networks.work`;
const UDP_ECHO = `${WORK}/udp-echo`;

beforeAll(async () => {
  await cleanStore(store);
  expect((await asUser('rm', ['-rf', WORK])).code).toBe(0);
  expect((await asUser('mkdir', ['-p', WORK])).code).toBe(0);
  execFileSync('cc', ['-O2', '-static', '-o', UDP_ECHO, new URL('../fixtures/udp-echo.c', import.meta.url).pathname]);
  await ok(['pull', '-q', A], { store });
}, 120_000);

afterAll(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
  await tspod(['network', 'prune', '-f'], { store });
  await asUser('rm', ['-rf', WORK]);
  await cleanStore(store);
});

describe.skipIf(IS_PODMAN)('user-defined networks', () => {
  it('network create / ls / inspect / exists', async () => {
    expect((await ok(['network', 'create', NET_A], { store })).stdout).toBe(`${NET_A}\n`);
    expect((await ok(['network', 'create', '--subnet', '10.89.77.0/24', '--label', 'k=v', '--internal', NET_B], { store })).stdout).toBe(`${NET_B}\n`);
    await fails(['network', 'create', NET_A], 125, { store });
    await fails(['network', 'create', '--subnet', '10.89.77.0/24', 'clash'], 125, { store });

    const ls = (await ok(['network', 'ls'], { store })).stdout.split('\n');
    expect(ls[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER$/);
    expect(ls.some((l) => new RegExp(`^[0-9a-f]{12}\\s+${NET_A}\\s+bridge$`).test(l))).toBe(true);
    expect((await ok(['network', 'ls', '-q'], { store })).stdout).toBe(`${NET_A}\n${NET_B}\n`);
    expect((await ok(['network', 'ls', '--filter', `name=${NET_B}`, '--format', '{{.Name}} {{.Driver}}'], { store })).stdout).toBe(`${NET_B} bridge\n`);

    const [b] = JSON.parse((await ok(['network', 'inspect', NET_B], { store })).stdout) as Array<Record<string, unknown>>;
    expect(b).toMatchObject({ name: NET_B, driver: 'bridge', internal: true, labels: { k: 'v' }, subnets: [{ subnet: '10.89.77.0/24', gateway: '10.89.77.1' }] });
    expect(b!.id).toMatch(/^[0-9a-f]{64}$/);
    const [a] = JSON.parse((await ok(['network', 'inspect', NET_A], { store })).stdout) as Array<{ subnets: Array<{ subnet: string }> }>;
    expect(a!.subnets[0]!.subnet).toMatch(/^10\.89\.\d+\.0\/24$/);
    expect((await ok(['network', 'inspect', '--format', '{{.name}}', NET_A], { store })).stdout).toBe(`${NET_A}\n`);
    await fails(['network', 'inspect', 'nosuchnet'], 125, { store });

    await ok(['network', 'exists', NET_A], { store });
    await fails(['network', 'exists', 'nosuchnet'], 1, { store });
  });

  it('containers on a network reach each other by name and alias; other networks cannot', async () => {
    await ok(['network', 'create', 'tsnet-c'], { store });
    await ok(['run', '-d', '--name', 'web', '--network', NET_A, '--network-alias', 'www', A, 'sh', '-c', 'echo hello-net > /tmp/index.html && exec httpd -f -p 80 -h /tmp'], { store });
    const byName = await httpFrom(NET_A, 'web');
    expect(byName.code, byName.out).toBe(0);
    expect(byName.out).toContain('hello-net');
    const byAlias = await httpFrom(NET_A, 'www');
    expect(byAlias.code, byAlias.out).toBe(0);
    expect(byAlias.out).toContain('hello-net');

    // The other network: neither the name nor the address leads to the server.
    const ip = (await ok(['exec', 'web', 'sh', '-c', "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1"], { store })).stdout.trim();
    expect(ip).toMatch(/^10\.89\.\d+\.\d+$/);
    const other = await tspod(['run', '--rm', '--network', 'tsnet-c', A, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} 80`], { store });
    expect(other.code).not.toBe(0);
    expect(other.stdout).not.toContain('hello-net');
    const otherName = await tspod(['run', '--rm', '--network', 'tsnet-c', A, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 80`], { store });
    expect(otherName.code).not.toBe(0);

    // In use: rm fails with podman's exit code 2; -f removes the containers too.
    const rm = await fails(['network', 'rm', NET_A], 2, { store });
    expect(rm.stderr).toContain('network is being used');
    expect((await ok(['network', 'rm', '-f', NET_A], { store })).stdout).toBe(`${NET_A}\n`);
    await fails(['container', 'exists', 'web'], 1, { store });
    await fails(['network', 'exists', NET_A], 1, { store });
    await fails(['network', 'rm', NET_A], 125, { store });
  }, 120_000);

  it('a network has a default route via its gateway (egress through slirp4netns); --internal has none', async () => {
    await ok(['network', 'create', '--internal', 'tsnet-int'], { store });
    const routed = (await ok(['run', '--rm', '--network', 'tsnet-c', A, 'ip', 'route'], { store })).stdout;
    expect(routed).toMatch(/^default via 10\.89\.\d+\.1 dev eth0/m);
    const internal = (await ok(['run', '--rm', '--network', 'tsnet-int', A, 'ip', 'route'], { store })).stdout;
    expect(internal).not.toMatch(/default/);
    expect(internal).toMatch(/10\.89\.\d+\.0\/24 dev eth0/);
    await ok(['network', 'rm', 'tsnet-int'], { store });
  });

  it('-p publishes from a user network through tspod-portfwd; stop frees the port, restart brings it back', async () => {
    await ok(['network', 'create', 'tsnet-p'], { store });
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'pweb', '--network', 'tsnet-p', '-p', `${hp}:80`, A, 'sh', '-c', 'echo hello-pub > /tmp/index.html && exec httpd -f -p 80 -h /tmp'], { store });
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('hello-pub\n');
    expect((await ok(['ps', '--format', '{{.Names}} {{.Ports}}', '--filter', 'name=pweb'], { store })).stdout).toBe(`pweb 0.0.0.0:${hp}->80/tcp\n`);
    expect((await ok(['port', 'pweb'], { store })).stdout).toBe(`80/tcp -> 0.0.0.0:${hp}\n`);
    expect(JSON.parse((await ok(['inspect', '--format', '{{json .NetworkSettings.Ports}}', 'pweb'], { store })).stdout)).toEqual({ '80/tcp': [{ HostIp: '', HostPort: String(hp) }] });

    // Busy host port: refused before the container starts.
    const busy = await fails(['run', '-d', '--name', 'pbusy', '--network', 'tsnet-p', '-p', `${hp}:80`, A, 'sleep', '100'], 125, { store });
    expect(busy.stderr).toContain('address already in use');
    await tspod(['rm', '-f', 'pbusy'], { store });

    // The forwarder dies with the container: the port is free when stop returns.
    await ok(['stop', '-t', '0', 'pweb'], { store });
    expect(await canBind(hp)).toBe(true);
    await ok(['start', 'pweb'], { store });
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('hello-pub\n');
    await ok(['rm', '-f', '-t', '0', 'pweb'], { store });
    expect(await portFreed(hp)).toBe(true);
    await ok(['network', 'rm', 'tsnet-p'], { store });
  }, 120_000);

  it('udp from a user network (no allow_host_loopback anywhere); kill -9 of the monitor takes the forwarder along', async () => {
    await ok(['network', 'create', 'tsnet-u'], { store });
    const up = await freePort();
    await ok(['run', '-d', '--name', 'pudp', '--network', 'tsnet-u', '-v', `${UDP_ECHO}:/udp-echo:ro`, '-p', `${up}:7/udp`, A, '/udp-echo', '7'], { store });
    expect(await udpEcho(up, 'ping')).toBe('echo:ping');
    const id = (await ok(['inspect', '--format', '{{.Id}}', 'pudp'], { store })).stdout.trim();
    const mon = Number((await ok(['inspect', '--format', '{{.State.ConmonPid}}', 'pudp'], { store })).stdout.trim());
    const key = `${store.runroot}/networks/netns`;
    expect(await forwarders(key)).toHaveLength(1);
    process.kill(mon, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while ((await forwarders(key)).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await forwarders(key)).toEqual([]);
    expect(await portFreed(up)).toBe(true);
    await ok(['rm', '-f', '-t', '0', id], { store });
    await ok(['network', 'rm', 'tsnet-u'], { store });
  }, 60_000);

  it('connect / disconnect a stopped container; prune', async () => {
    await ok(['create', '--name', 'idle', '--network', 'none', A, 'true'], { store });
    await ok(['network', 'connect', NET_B, 'idle'], { store });
    await fails(['network', 'rm', NET_B], 2, { store });
    await ok(['network', 'disconnect', NET_B, 'idle'], { store });
    await ok(['network', 'rm', NET_B], { store });
    await ok(['rm', 'idle'], { store });
    await ok(['network', 'create', 'tsnet-d'], { store });
    const pruned = (await ok(['network', 'prune', '-f'], { store })).stdout.split('\n').filter(Boolean).sort();
    expect(pruned).toEqual(['tsnet-c', 'tsnet-d']);
    expect((await ok(['network', 'ls', '-q'], { store })).stdout).toBe('');
  });

  it('--network with an unknown name still fails as before', async () => {
    const r = await fails(['run', '--rm', '--network', 'nosuchnet', A, 'true'], 125, { store });
    expect(r.stderr).toContain('network not found');
  });
});
