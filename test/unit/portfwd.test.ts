// tspod-portfwd on its own (src/native/portfwd/): a network namespace made here (unshare -n, so
// root), a server inside it on its loopback, the forwarder on 127.0.0.1 of the host. Checks the
// contract in its main.c: bind errors before anything else, TCP both ways with half-close, a reset
// for a refused connection, no fd left after connections end, UDP flows, bad arguments.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const bin = process.env.TSPOD_PORTFWD_BIN ?? path.join(repo, 'build/tspod-portfwd');
const isRoot = process.getuid?.() === 0;
const canRun = isRoot && existsSync(bin) && spawnSync('unshare', ['-n', 'true']).status === 0;

// In the namespace: TCP 7000 = echo (answers after EOF with the sha256 of what came, then the
// bytes back), TCP 7001 = sends 4 MiB of a fixed pattern, UDP 7002 = "echo:" + datagram.
const SERVER = `
const net = require('net'), dgram = require('dgram'), crypto = require('crypto');
net.createServer((s) => { const h = crypto.createHash('sha256'); const parts = []; s.on('error', () => {});
  s.on('data', (d) => { h.update(d); parts.push(d); });
  s.on('end', () => { s.write(h.digest('hex') + '\\n'); s.end(Buffer.concat(parts)); }); }).listen(7000, '127.0.0.1');
net.createServer((s) => { s.on('error', () => {}); s.end(Buffer.alloc(4 << 20, 'z')); }).listen(7001, '127.0.0.1');
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address)); u.bind(7002, '127.0.0.1');
setTimeout(() => process.stdout.write('up\\n'), 200);
`;

let ns: ChildProcess | undefined;
let fwd: ChildProcess | undefined;
let tcpPort = 0;
let udpPort = 0;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

function exchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('connect', () => s.end(data));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runFwd(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stderr: r.stderr };
}

describe.skipIf(!canRun)('tspod-portfwd (root: makes a network namespace)', () => {
  beforeAll(async () => {
    ns = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec node -e "$0"`, SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      ns!.stdout!.once('data', () => resolve());
      ns!.once('exit', (c) => reject(new Error(`namespace server exited ${c}`)));
    });
    tcpPort = await freePort();
    udpPort = await freePort();
    fwd = spawn(bin, ['--netns', `/proc/${ns.pid}/ns/net`, '--target', '127.0.0.1', '--ready-fd', '3',
      '--map', `tcp,127.0.0.1,${tcpPort},7000,2`, '--map', `udp,127.0.0.1,${udpPort},7002,1`], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      (fwd!.stdio[3] as NodeJS.ReadableStream).once('data', () => resolve());
      fwd!.once('exit', (c) => reject(new Error(`tspod-portfwd exited ${c}`)));
    });
  });

  afterAll(() => {
    fwd?.kill('SIGKILL');
    ns?.kill('SIGKILL');
  });

  it('TCP: 16 MiB up with half-close, answer and bytes back, checksummed; 4 MiB down', async () => {
    const data = randomBytes(16 << 20);
    const back = await exchange(tcpPort, data);
    const nl = back.indexOf(10);
    expect(back.subarray(0, nl).toString()).toBe(createHash('sha256').update(data).digest('hex'));
    expect(back.subarray(nl + 1).equals(data)).toBe(true);
    const down = await exchange(tcpPort + 1, Buffer.alloc(0));
    expect(down.equals(Buffer.alloc(4 << 20, 'z'))).toBe(true);
  });

  it('TCP: 300 connections at once; no fd left once they are done', async () => {
    const before = fds(fwd!.pid!);
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + i * 331);
    const out = await Promise.all(sizes.map((n) => exchange(tcpPort, Buffer.alloc(n, 'q'))));
    out.forEach((b, i) => expect(b.length).toBe(65 + sizes[i]!));
    await until('fds back', () => fds(fwd!.pid!) === before);
  });

  it('TCP: a client that resets mid-transfer, and one that leaves without reading, cost nothing', async () => {
    const before = fds(fwd!.pid!);
    await new Promise<void>((resolve) => {
      const s = connect(tcpPort, '127.0.0.1', () => {
        s.write(randomBytes(1 << 20));
        setTimeout(() => {
          s.resetAndDestroy();
          resolve();
        }, 50);
      });
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => {
      const s = connect(tcpPort + 1, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
    });
    await until('fds back', () => fds(fwd!.pid!) === before);
    expect((await exchange(tcpPort, Buffer.from('still here'))).toString()).toContain('still here');
  });

  it('UDP: each client gets its own answers', async () => {
    const ask = (msg: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = createSocket('udp4');
        const t = setTimeout(() => reject(new Error('no answer')), 3000);
        s.on('message', (m) => {
          clearTimeout(t);
          s.close();
          resolve(m.toString());
        });
        s.send(msg, udpPort, '127.0.0.1');
      });
    expect(await Promise.all(['a', 'b', 'c'].map(ask))).toEqual(['echo:a', 'echo:b', 'echo:c']);
  });

  it("a taken port: podman's message, exit 1, the ports bound before it are let go", async () => {
    const free = await freePort();
    const r = runFwd(['--netns', `/proc/${ns!.pid}/ns/net`, '--target', '127.0.0.1', '--map', `tcp,127.0.0.1,${free},80,1`, '--map', `tcp,127.0.0.1,${tcpPort},80,1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`cannot publish port ${tcpPort}/tcp: listen tcp 127.0.0.1:${tcpPort}: bind: address already in use\n`);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(free, '127.0.0.1', resolve));
    srv.close();
  });

  it('bad arguments: exit 1 with a message', () => {
    const netns = ['--netns', `/proc/${ns!.pid}/ns/net`, '--target', '127.0.0.1'];
    expect(runFwd([...netns, '--map', 'sctp,,80,80,1']).stderr).toMatch(/invalid protocol `sctp`/);
    expect(runFwd([...netns, '--map', 'tcp,,0,80,1']).stderr).toMatch(/invalid host port `0`/);
    expect(runFwd([...netns, '--map', 'tcp,,65535,80,2']).stderr).toMatch(/past 65535/);
    expect(runFwd([...netns, '--map', 'tcp,not-an-ip,8080,80,1']).stderr).toMatch(/invalid host address/);
    expect(runFwd([...netns, '--map', 'tcp,,8080,80']).stderr).toMatch(/invalid --map/);
    expect(runFwd(['--netns', 'relative', '--target', '127.0.0.1', '--map', 'tcp,,8080,80,1']).stderr).toMatch(/--netns <absolute path>/);
    expect(runFwd(['--netns', '/x', '--target', '::1', '--map', 'tcp,,8080,80,1']).stderr).toMatch(/--target <IPv4 address>/);
    expect(runFwd(['--netns', '/x', '--target', '127.0.0.1']).stderr).toMatch(/nothing to publish/);
    expect(runFwd(['--bogus', 'x']).code).toBe(1);
  });
});
