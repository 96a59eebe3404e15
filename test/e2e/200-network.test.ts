// Networks: slirp4netns (the rootless default) and pasta, none, host, container:NAME; /etc/hosts,
// resolv.conf and hostname; published ports (tcp, udp, ranges, random host ports, -P), the PORTS
// column, `port` and inspect; a taken host port; ports released at stop and back at restart; the
// port forwarder (tspod-portfwd; podman's rootlessport): many connections at once, half-close,
// large transfers both ways, a refused connection; no network helper or forwarder left behind
// after rm -f, kill -9 of the container, of its monitor, or a failed start.
//
// Requirements: rootless test user, the fixture registry on 127.0.0.1:5000, slirp4netns and pasta,
// /dev/net/tun usable by the user, cc (the UDP echo server is a static C program: busybox has no
// UDP server). All traffic stays on 127.0.0.1 or inside the containers' namespaces.

import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server as NetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IS_PODMAN, TEST_USER, asUser, cleanStore, fails, ok, storeFor, tspod } from './helpers.js';
import { canBind, freePort, get, udpEcho } from './net-helpers.js';

const store = storeFor('200-network');
const A = 'alpine:3.15';
const HOME = execFileSync('getent', ['passwd', TEST_USER], { encoding: 'utf8' }).split(':')[5]!;
const WORK = `${HOME}/e2e/200-network.work`;
const UDP_ECHO = `${WORK}/udp-echo`;
const TCP_COUNT = `${WORK}/tcp-count`;

/** A web server in the container: busybox httpd serving /tmp/index.html = `text`. */
function web(text: string, port = 80): string[] {
  return ['sh', '-c', `echo ${text} > /tmp/index.html && exec httpd -f -p ${port} -h /tmp`];
}


/** Network helpers (slirp4netns / pasta, and tspod-portfwd) whose command line names `key` (a netns path, a store). */
async function helpersFor(key: string): Promise<string[]> {
  const r = await asUser('pgrep', ['-u', TEST_USER, '-a', '-f', `(slirp4netns|pasta|passt|tspod-portfwd).*${key.replace(/[.]/g, '\\.')}`]);
  return r.stdout.split('\n').filter((l) => l && !/tspod-monitor|pgrep/.test(l));
}

/** Waits until no helper names `key` (they are killed asynchronously after an exit). */
async function expectNoHelpers(key: string): Promise<void> {
  const deadline = Date.now() + 5000;
  let left: string[] = [];
  while (Date.now() < deadline) {
    left = await helpersFor(key);
    if (!left.length) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(left).toEqual([]);
}

async function inspect(name: string, format: string): Promise<string> {
  return (await ok(['inspect', '--format', format, name], { store })).stdout.trim();
}

/** Runs a container that prints something and exits; returns its stdout (nothing on stderr). */
async function run(args: string[]): Promise<string> {
  const r = await ok(['run', '--rm', ...args], { store });
  expect(r.stderr).toBe('');
  return r.stdout;
}

let hostServer: Server;
let hostPort = 0;

beforeAll(async () => {
  await cleanStore(store);
  expect((await asUser('rm', ['-rf', WORK])).code).toBe(0);
  expect((await asUser('mkdir', ['-p', WORK])).code).toBe(0);
  execFileSync('cc', ['-O2', '-static', '-o', UDP_ECHO, new URL('../fixtures/udp-echo.c', import.meta.url).pathname]);
  execFileSync('cc', ['-O2', '-static', '-o', TCP_COUNT, new URL('../fixtures/tcp-count.c', import.meta.url).pathname]);
  const r = await ok(['pull', '-q', A], { store });
  expect(r.stderr).toBe('');
  hostServer = createHttpServer((_req, res) => res.end('from-the-host\n'));
  await new Promise<void>((resolve) => hostServer.listen(0, '127.0.0.1', resolve));
  hostPort = (hostServer.address() as { port: number }).port;
});

afterEach(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
});

afterAll(async () => {
  await tspod(['rm', '-a', '-f', '-t', '0'], { store });
  hostServer?.close();
  await asUser('rm', ['-rf', WORK]);
  await cleanStore(store);
});

describe('slirp4netns, the rootless default', () => {
  it('a container gets tap0 10.0.2.100, a default route, DNS 10.0.2.3 and itself in /etc/hosts', async () => {
    await ok(['run', '-d', '--name', 'n-default', A, 'sleep', '100'], { store });
    expect(await inspect('n-default', '{{.HostConfig.NetworkMode}}')).toBe('slirp4netns');
    const id = (await inspect('n-default', '{{.Id}}')).slice(0, 12);
    const out = (await ok(['exec', 'n-default', 'sh', '-c', 'ip -o -4 addr show tap0; ip route; cat /etc/resolv.conf /etc/hosts /etc/hostname'], { store })).stdout;
    expect(out).toMatch(/tap0\s+inet 10\.0\.2\.100\/24/);
    expect(out).toMatch(/^default via 10\.0\.2\.2 dev tap0/m);
    expect(out.match(/^nameserver .*$/m)?.[0]).toBe('nameserver 10.0.2.3');
    expect(out).toMatch(new RegExp(`^10\\.0\\.2\\.100\\s+${id} n-default$`, 'm'));
    expect(out).toMatch(/^\S+\s+host\.containers\.internal$/m);
    expect(out).toMatch(new RegExp(`^${id}$`, 'm'));
  });

  // podman 4.3 shows netavark or cni there, its bridge backend
  it.skipIf(IS_PODMAN)('info names the network backend', async () => {
    const info = JSON.parse((await ok(['info', '--format', 'json'], { store })).stdout) as { host: { networkBackend: string } };
    expect(info.host.networkBackend).toBe('slirp4netns');
  });

  it('the host loopback is closed by default; allow_host_loopback=true opens it as 10.0.2.2', async () => {
    const url = `http://10.0.2.2:${hostPort}/`;
    // (busybox-static's wget -T crashes: timeout(1) bounds it instead)
    const closed = await tspod(['run', '--rm', A, 'timeout', '5', 'wget', '-q', '-O', '-', url], { store });
    expect(closed.code).not.toBe(0);
    expect(closed.stdout).toBe('');
    expect(await run(['--network', 'slirp4netns:allow_host_loopback=true', A, 'timeout', '5', 'wget', '-q', '-O', '-', url])).toBe('from-the-host\n');
  });

  it('a bad option or an unknown network: exit 125 before anything is created', async () => {
    const r = await fails(['run', '--rm', '--network', 'no-such-net', A, 'true'], 125, { store });
    expect(r.stderr).toMatch(/^Error: unable to find network with name or ID no-such-net: network not found/);
    if (!IS_PODMAN) {
      const s = await fails(['run', '--rm', '--network', 'slirp4netns:bogus=1', A, 'true'], 125, { store });
      expect(s.stderr).toMatch(/^Error: unknown slirp4netns option "bogus"/);
    }
    expect((await ok(['ps', '-a', '-q'], { store })).stdout).toBe('');
  });
});

describe('published ports', () => {
  it('-p HOST:CTR (tcp): served on 127.0.0.1; ps, port and inspect show it', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'p-web', '-p', `${hp}:80`, A, ...web('hello-web')], { store });
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('hello-web\n');
    expect((await ok(['ps', '--format', '{{.Names}} {{.Ports}}'], { store })).stdout).toBe(`p-web 0.0.0.0:${hp}->80/tcp\n`);
    expect((await ok(['port', 'p-web'], { store })).stdout).toBe(`80/tcp -> 0.0.0.0:${hp}\n`);
    expect((await ok(['port', 'p-web', '80'], { store })).stdout).toBe(`0.0.0.0:${hp}\n`);
    expect(JSON.parse(await inspect('p-web', '{{json .NetworkSettings.Ports}}'))).toEqual({ '80/tcp': [{ HostIp: '', HostPort: String(hp) }] });
  });

  it('ip:host:ctr, ip::ctr (random), a range, and a bare -p 80 (random)', async () => {
    const a = await freePort();
    let b = await freePort();
    while (!(await canBind(b + 1))) b = await freePort();
    await ok(
      ['run', '-d', '--name', 'p-many', '-p', `127.0.0.1:${a}:80`, '-p', '127.0.0.1::81', '-p', `${b}-${b + 1}:82-83`, '-p', '84', A, 'sh', '-c',
        'echo x > /tmp/index.html; for p in 80 81 82 83 84; do httpd -p $p -h /tmp; done; sleep 1000'],
      { store },
    );
    const lines = (await ok(['port', 'p-many'], { store })).stdout.split('\n').filter(Boolean).sort();
    expect(lines).toHaveLength(5);
    expect(lines).toContain(`80/tcp -> 127.0.0.1:${a}`);
    expect(lines).toContain(`82/tcp -> 0.0.0.0:${b}`);
    expect(lines).toContain(`83/tcp -> 0.0.0.0:${b + 1}`);
    const r81 = lines.find((l) => l.startsWith('81/tcp -> 127.0.0.1:'));
    const r84 = lines.find((l) => l.startsWith('84/tcp -> 0.0.0.0:'));
    expect(r81 && r84).toBeTruthy();
    for (const l of lines) {
      const [, host] = l.split(' -> ');
      expect(await get(`http://${host!.replace('0.0.0.0', '127.0.0.1')}/index.html`)).toBe('x\n');
    }
    const ps = (await ok(['ps', '--format', '{{.Ports}}'], { store })).stdout;
    expect(ps).toContain(`127.0.0.1:${a}->80/tcp`);
    expect(ps).toContain(`0.0.0.0:${b}-${b + 1}->82-83/tcp`);
  });

  it('-P publishes the exposed ports on random host ports', async () => {
    await ok(['run', '-d', '--name', 'p-all', '--expose', '80', '-P', A, ...web('exposed')], { store });
    const line = (await ok(['port', 'p-all'], { store })).stdout;
    const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)\n$/.exec(line);
    expect(m).toBeTruthy();
    expect(await get(`http://127.0.0.1:${m![1]}/index.html`)).toBe('exposed\n');
  });

  it('udp: a datagram to the published port is answered by the container (default slirp4netns options)', async () => {
    const hp = await freePort();
    // Through the forwarder, not slirp4netns: no allow_host_loopback needed (podman#4586).
    await ok(['run', '-d', '--name', 'p-udp', '-v', `${UDP_ECHO}:/udp-echo:ro`, '-p', `${hp}:7/udp`, A, '/udp-echo', '7'], { store });
    expect((await ok(['port', 'p-udp'], { store })).stdout).toBe(`7/udp -> 0.0.0.0:${hp}\n`);
    expect(await udpEcho(hp, 'ping')).toBe('echo:ping');
    // Two clients at once: each answer goes to its own client.
    const [a, b] = await Promise.all([udpEcho(hp, 'one'), udpEcho(hp, 'two')]);
    expect([a, b]).toEqual(['echo:one', 'echo:two']);
  });

  it('a host port in use: the start fails before anything runs, the container stays Created', async () => {
    const blocker: NetServer = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const hp = (blocker.address() as { port: number }).port;
    try {
      // podman 4.3 exits 126 here (its rootlessport error comes from the start); tspod says 125.
      const r = await fails(['run', '-d', '--name', 'p-busy', '-p', `${hp}:80`, A, 'sleep', '100'], IS_PODMAN ? 126 : 125, { store });
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^Error: .*${hp}.*address already in use`));
      expect((await ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}'], { store })).stdout).toBe('p-busy Created\n');
      if (!IS_PODMAN) await expectNoHelpers(store.runroot);
    } finally {
      blocker.close();
    }
    // Once the port is free, the same container starts.
    await ok(['start', 'p-busy'], { store });
    expect(await inspect('p-busy', '{{.State.Status}}')).toBe('running');
  });

  it('ports are released when the container stops and come back on restart', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'p-restart', '-p', `${hp}:80`, A, ...web('again')], { store });
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('again\n');
    expect(await canBind(hp)).toBe(false);
    await ok(['stop', '-t', '0', 'p-restart'], { store });
    expect(await canBind(hp)).toBe(true);
    await ok(['start', 'p-restart'], { store });
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('again\n');
    expect((await ok(['port', 'p-restart'], { store })).stdout).toBe(`80/tcp -> 0.0.0.0:${hp}\n`);
  });

  it('bad -p values: exit 125', async () => {
    await fails(['run', '--rm', '-p', '1:2:3:4', A, 'true'], 125, { store });
    await fails(['run', '--rm', '-p', '80/sctpx', A, 'true'], 125, { store });
    await fails(['run', '--rm', '-p', '99999:80', A, 'true'], 125, { store });
  });
});

/** Connects to 127.0.0.1:port, sends `data`, half-closes, and collects the answer until EOF. */
function exchange(port: number, data: Buffer, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`timeout on 127.0.0.1:${port}`)));
    s.on('connect', () => s.end(data));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Reads 127.0.0.1:port to EOF. */
const readAll = (port: number): Promise<Buffer> => exchange(port, Buffer.alloc(0));

/** Retries fn while the container's server comes up (a refused or reset connection). */
async function retry<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('the port forwarder', () => {
  it('half-close: the container sees EOF, and its answer still comes back', async () => {
    const hp = await freePort();
    // busybox nc -ll -e: one `wc -c` per connection; it answers only after EOF on its input.
    await ok(['run', '-d', '--name', 'f-half', '-p', `127.0.0.1:${hp}:80`, A, 'nc', '-ll', '-p', '80', '-e', 'wc', '-c'], { store });
    const out = await retry(async () => {
      const r = (await exchange(hp, Buffer.from('hello, world\n'))).toString();
      if (!r) throw new Error('empty answer');
      return r;
    });
    expect(out.trim()).toBe('13');
  });

  it('64 MiB each way, checksummed', async () => {
    const hp = await freePort();
    const hp2 = await freePort();
    await ok(['run', '-d', '--name', 'f-big', '-p', `127.0.0.1:${hp}:80`, '-p', `127.0.0.1:${hp2}:81`, A, 'sh', '-c',
      'head -c 67108864 /dev/urandom > /tmp/big; sha256sum /tmp/big > /tmp/big.sum; nc -ll -p 81 -e cat /tmp/big & exec nc -ll -p 80 -e sha256sum'], { store });
    const data = randomBytes(64 * 1024 * 1024);
    const up = await retry(async () => {
      const r = (await exchange(hp, data)).toString();
      if (!r) throw new Error('empty answer');
      return r;
    });
    expect(up.split(/\s+/)[0]).toBe(sha256(data));
    const sum = await retry(async () => {
      const r = (await ok(['exec', 'f-big', 'cat', '/tmp/big.sum'], { store })).stdout;
      if (!r) throw new Error('not yet');
      return r.split(/\s+/)[0];
    });
    const down = await retry(() => readAll(hp2));
    expect(down.length).toBe(64 * 1024 * 1024);
    expect(sha256(down)).toBe(sum);
  }, 120_000);

  it('200 connections at once', async () => {
    const hp = await freePort();
    // (busybox's servers listen with a backlog of 1: the kernel would reset most of them)
    await ok(['run', '-d', '--name', 'f-many', '-v', `${TCP_COUNT}:/tcp-count:ro`, '-p', `127.0.0.1:${hp}:80`, A, '/tcp-count', '80'], { store });
    await retry(() => exchange(hp, Buffer.from('x')).then((b) => (b.length ? b : Promise.reject(new Error('empty')))));
    const sizes = Array.from({ length: 200 }, (_, i) => 1000 + i * 997);
    const answers = await Promise.all(sizes.map((n) => exchange(hp, Buffer.alloc(n, 'a'))));
    expect(answers.map((b) => Number(b.toString().trim()))).toEqual(sizes);
  }, 60_000);

  it('nothing listening in the container: the client is turned away, and the port works once something listens', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'f-late', '-p', `127.0.0.1:${hp}:80`, A, 'sh', '-c', 'sleep 2; exec nc -ll -p 80 -e wc -c'], { store });
    // Refused inside: a reset (the forwarder's) or an empty answer, never an answer or a hang.
    const first = await exchange(hp, Buffer.from('early'), 5000).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
    expect(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', '']).toContain(Buffer.isBuffer(first) ? first.toString() : first);
    const out = await retry(async () => {
      const r = (await exchange(hp, Buffer.from('late'))).toString();
      if (!r) throw new Error('empty answer');
      return r;
    });
    expect(out.trim()).toBe('4');
  });
});

describe('no network helper is left behind', () => {
  it('after rm -f of a running container', async () => {
    await ok(['run', '-d', '--name', 'h-rm', '-p', `${await freePort()}:80`, A, 'sleep', '1000'], { store });
    const key = await inspect('h-rm', '{{.NetworkSettings.SandboxKey}}');
    expect(key).not.toBe('');
    // slirp4netns and tspod-portfwd (podman's rootlessport does not name the namespace)
    expect(await helpersFor(key)).toHaveLength(IS_PODMAN ? 1 : 2);
    await ok(['rm', '-f', '-t', '0', 'h-rm'], { store });
    await expectNoHelpers(key);
  });

  it('after kill -9 of the container process, and its ports are free again', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'h-kill', '-p', `${hp}:80`, A, 'sleep', '1000'], { store });
    const key = await inspect('h-kill', '{{.NetworkSettings.SandboxKey}}');
    const pid = Number(await inspect('h-kill', '{{.State.Pid}}'));
    process.kill(pid, 'SIGKILL');
    expect((await ok(['wait', 'h-kill'], { store })).stdout).toBe('137\n');
    await expectNoHelpers(key);
    expect(await canBind(hp)).toBe(true);
  });

  // tspod only: podman's slirp4netns is not tied to conmon
  it.skipIf(IS_PODMAN)('after kill -9 of the monitor: the helper and the forwarder die with it; rm -f cleans up the rest', async () => {
    const hp = await freePort();
    await ok(['run', '-d', '--name', 'h-mon', '-p', `${hp}:80`, '-p', `${hp}:80/udp`, A, 'sleep', '1000'], { store });
    const key = await inspect('h-mon', '{{.NetworkSettings.SandboxKey}}');
    expect(await helpersFor(key)).toHaveLength(2);
    process.kill(Number(await inspect('h-mon', '{{.State.ConmonPid}}')), 'SIGKILL');
    await expectNoHelpers(key);
    expect(await canBind(hp)).toBe(true);
    await ok(['rm', '-f', '-t', '0', 'h-mon'], { store });
    expect(execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' })).not.toContain(store.runroot);
    await expectNoHelpers(store.runroot);
  });

  it('after a start that fails (command not found: 127)', async () => {
    const hp = await freePort();
    const r = await fails(['run', '--rm', '-p', `${hp}:80`, '-p', `${hp}:53/udp`, A, 'no-such-command'], 127, { store });
    expect(r.stderr).toMatch(/not found/);
    if (!IS_PODMAN) await expectNoHelpers(store.runroot);
    expect((await ok(['ps', '-a', '-q'], { store })).stdout).toBe('');
    expect(await canBind(hp)).toBe(true);
  });
});

describe('other modes', () => {
  it('--network none: loopback only', async () => {
    const out = await run(['--network', 'none', A, 'cat', '/proc/net/dev']);
    const ifs = out.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0]!.trim());
    expect(ifs).toEqual(['lo']);
  });

  it("--network host: the host's interfaces", async () => {
    const out = await run(['--network', 'host', A, 'cat', '/proc/net/dev']);
    const names = (t: string): string[] => t.split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0]!.trim()).sort();
    expect(names(out)).toEqual(names(execFileSync('cat', ['/proc/net/dev'], { encoding: 'utf8' })));
  });

  it('--network container:NAME shares the network namespace (and its localhost)', async () => {
    await ok(['run', '-d', '--name', 'o-base', A, 'sh', '-c', 'echo shared > /tmp/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp'], { store });
    const out = await run(['--network', 'container:o-base', A, 'sh', '-c', 'sleep 0.5; wget -q -O - http://127.0.0.1:8080/index.html; ip -o -4 addr show tap0']);
    expect(out).toMatch(/^shared\n/);
    expect(out).toContain('inet 10.0.2.100/24');
    await fails(['run', '--rm', '--network', 'container:no-such-ctr', A, 'true'], 125, { store });
  });

  // pasta arrived in podman 4.4
  it.skipIf(IS_PODMAN)('pasta: tcp and udp ports, the host address in the container', async () => {
    const hp = await freePort();
    const up = await freePort();
    // pasta 2023-03 forwards UDP only without port translation (host port = container port).
    await ok(['run', '-d', '--name', 'o-pasta', '--network', 'pasta', '-v', `${UDP_ECHO}:/udp-echo:ro`, '-p', `${hp}:80`, '-p', `${up}:${up}/udp`, A, 'sh', '-c',
      `/udp-echo ${up} & echo pasta > /tmp/index.html; exec httpd -f -p 80 -h /tmp`], { store });
    expect(await inspect('o-pasta', '{{.HostConfig.NetworkMode}}')).toBe('pasta');
    expect(await get(`http://127.0.0.1:${hp}/index.html`)).toBe('pasta\n');
    expect(await udpEcho(up, 'p')).toBe('echo:p');
    const key = await inspect('o-pasta', '{{.NetworkSettings.SandboxKey}}');
    expect(await helpersFor(key)).toHaveLength(1);
    const hosts = (await ok(['exec', 'o-pasta', 'cat', '/etc/hosts'], { store })).stdout;
    expect(hosts).toMatch(/^\S+\s+host\.containers\.internal$/m);
    await ok(['rm', '-f', '-t', '0', 'o-pasta'], { store });
    await expectNoHelpers(key);
  });

  // podman adds -T none only when the user gave no -T (pasta 2023-03 refuses both together)
  it.skipIf(IS_PODMAN)('pasta:-T,PORT: the container reaches the host port on its own loopback', async () => {
    const out = await run(['--network', `pasta:-T,${hostPort}`, A, 'timeout', '5', 'wget', '-q', '-O', '-', `http://127.0.0.1:${hostPort}/`]);
    expect(out).toBe('from-the-host\n');
  });
});

describe('/etc/hosts, resolv.conf, hostname', () => {
  it('--add-host, -h, --dns, --dns-search, --dns-option; the same after a restart', async () => {
    await ok(['create', '--name', 'e-etc', '-h', 'myhost', '--add-host', 'db.example:192.0.2.77', '--dns', '192.0.2.53', '--dns-search', 'example.test',
      '--dns-option', 'ndots:3', A, 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf /etc/hostname; echo ---'], { store });
    await ok(['start', '--attach', 'e-etc'], { store });
    await ok(['start', '--attach', 'e-etc'], { store });
    const runs = (await ok(['logs', 'e-etc'], { store })).stdout.split('---\n').filter(Boolean);
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBe(runs[0]);
    const out = runs[0]!;
    expect(out).toMatch(/^192\.0\.2\.77\s+db\.example$/m);
    expect(out).toMatch(/^10\.0\.2\.100\s+myhost e-etc$/m);
    expect(out).toMatch(/^search example\.test$/m);
    expect(out.match(/^nameserver .*$/gm)).toEqual(['nameserver 192.0.2.53']);
    expect(out).toMatch(/^options ndots:3$/m);
    expect(out).toMatch(/^myhost$/m);
  });
});
