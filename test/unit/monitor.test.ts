// Tests for build/tspod-monitor (src/native/monitor), driven the way src/runtime/monitor.ts drives it:
// spawned (through an intermediate shell that exits first) with the sync pipe on fd 3 and the start
// pipe on fd 4, then attach, start pipe, `created`, `runc start`. Real runc, a busybox bundle, as root.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// TSPOD_MONITOR_BIN runs the suite against another build (e.g. one with -fsanitize=address).
const bin = process.env.TSPOD_MONITOR_BIN ?? path.join(repo, 'build/tspod-monitor');
const isRoot = process.getuid?.() === 0;
const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const hasRunc = which('runc');
const hasBusybox = fs.existsSync('/bin/busybox');
const hasCc = which('cc');

// keep in sync with src/native/monitor/monitor.h (and src/runtime/monitor.ts)
const ENV_SYNCPIPE = '_TSPOD_SYNCPIPE';
const ENV_STARTPIPE = '_TSPOD_STARTPIPE';
const ATTACH_SOCKET = 'attach';
const ATTACH_STREAM_SOCKET = 'attach.stream';
const CTL_FIFO = 'ctl';
const STREAM_STDOUT = 1;
const STREAM_STDERR = 2;
const FRAME_HEADER_SIZE = 8;
const CTL_RESIZE = 1;
const CTL_REOPEN_LOG = 2;

const LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d) (stdout|stderr) (F|P) ([^\n]*)$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const alive = (pid: number) => {
  try {
    // A zombie is not alive for our purposes.
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

const statusField = (pid: number, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
};

// ---------- fixture: a busybox rootfs shared by all bundles, one bundle per container ----------

let base = '';
let rootfs = '';
let specTemplate: any;
const runcRoot = () => path.join(base, 'runc');
const runc = (...args: string[]) => execFileSync('runc', ['--root', runcRoot(), ...args], { encoding: 'utf8' });

interface ProcessOpts {
  args: string[];
  terminal?: boolean;
}

function makeBundle(name: string, proc: ProcessOpts, netnsPath?: string): string {
  const dir = path.join(base, name, 'bundle');
  fs.mkdirSync(dir, { recursive: true });
  const spec = structuredClone(specTemplate);
  spec.process.args = proc.args;
  spec.process.terminal = !!proc.terminal;
  spec.root = { path: rootfs, readonly: false };
  const ns: { type: string }[] = spec.linux.namespaces;
  if (!ns.some((n) => n.type === 'cgroup')) ns.push({ type: 'cgroup' });
  if (netnsPath) {
    const i = ns.findIndex((n) => n.type === 'network');
    const entry = { type: 'network', path: netnsPath };
    if (i >= 0) ns[i] = entry;
    else ns.push(entry);
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

// ---------- driving the monitor ----------

interface MonitorEvent {
  event: 'created' | 'started' | 'exited' | 'error';
  pid?: number;
  exitCode?: number;
  message?: string;
}

interface Monitor {
  cid: string;
  dir: string;
  socketDir: string;
  exitDir: string;
  logPath: string;
  pidfile: string;
  shell: ChildProcess;
  shellExit: Promise<number | null>;
  shellStdout: () => string;
  events: MonitorEvent[];
  event: (name: MonitorEvent['event']) => Promise<MonitorEvent>;
  syncClosed: Promise<void>;
  start: () => void;
  monitorPid: () => number;
}

const started: Monitor[] = [];
const cids: string[] = [];

interface MonitorOpts {
  name: string;
  cid?: string;
  bundle?: string;
  proc?: ProcessOpts;
  flags?: string[];
  startPipe?: boolean;
  exitCommand?: string; // a shell command run by the exit command
  netnsPath?: string; // the spec joins this network namespace
}

function startMonitor(o: MonitorOpts): Monitor {
  const dir = path.join(base, o.name);
  const socketDir = path.join(dir, 's');
  const exitDir = path.join(dir, 'exit');
  fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(exitDir, { recursive: true });
  const cid = o.cid ?? `tspod-mon-${o.name}-${process.pid}`;
  if (!o.cid) cids.push(cid);
  const bundle = o.bundle ?? makeBundle(o.name, o.proc ?? { args: ['true'] }, o.netnsPath);
  const logPath = path.join(dir, 'ctr.log');
  const pidfile = path.join(dir, 'monitor.pid');
  const args = [
    '--cid', cid, '--bundle', bundle, '--runtime', 'runc', '--runtime-arg', '--root', '--runtime-arg', runcRoot(),
    '--log-path', logPath, '--exit-dir', exitDir, '--socket-dir', socketDir, '--pidfile', pidfile,
    ...(o.exitCommand ? ['--exit-command', '/bin/sh', '--exit-command-arg', '-c', '--exit-command-arg', o.exitCommand] : []),
    ...(o.flags ?? []),
  ];
  const startPipe = o.startPipe ?? true;
  // The intermediate shell runs the monitor as a child and exits after it: the monitor must outlive it.
  const shell = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', startPipe ? 'pipe' : 'ignore'],
    env: { ...process.env, [ENV_SYNCPIPE]: '3', ...(startPipe ? { [ENV_STARTPIPE]: '4' } : {}) },
    detached: true,
  });
  let out = '';
  let err = '';
  shell.stdout!.on('data', (d) => (out += d));
  shell.stderr!.on('data', (d) => (err += d));
  const shellExit = new Promise<number | null>((resolve) => shell.on('exit', (code) => resolve(code)));

  const events: MonitorEvent[] = [];
  const waiters: (() => void)[] = [];
  const sync = shell.stdio[3] as net.Socket;
  let buf = '';
  sync.on('data', (d) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const syncClosed = new Promise<void>((resolve) => sync.on('close', () => resolve()));
  sync.on('close', () => waiters.splice(0).forEach((w) => w()));
  let closed = false;
  sync.on('close', () => (closed = true));

  const event = (name: MonitorEvent['event']) =>
    new Promise<MonitorEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for event ${name}; stderr: ${err}`)), 20_000);
      const check = () => {
        const e = events.find((x) => x.event === name);
        if (e) {
          clearTimeout(timer);
          resolve(e);
        } else if (closed) {
          clearTimeout(timer);
          reject(new Error(`sync pipe closed without ${name}: ${JSON.stringify(events)}; stderr: ${err}`));
        } else waiters.push(check);
      };
      check();
    });

  const m: Monitor = {
    cid, dir, socketDir, exitDir, logPath, pidfile, shell, shellExit, events, event, syncClosed,
    shellStdout: () => out,
    start: () => {
      const s = shell.stdio[4] as net.Socket;
      s.end('x');
    },
    monitorPid: () => Number(fs.readFileSync(pidfile, 'utf8')),
  };
  started.push(m);
  return m;
}

interface AttachClient {
  sock: net.Socket;
  stdout: () => string;
  stderr: () => string;
  ended: Promise<void>;
}

/** Connects to attach.stream and decodes its frames: [stream][0 0 0][u32 BE length][payload]. */
function attachStream(m: Monitor): Promise<AttachClient> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path.join(m.socketDir, ATTACH_STREAM_SOCKET));
    const chunks: Record<number, Buffer[]> = { [STREAM_STDOUT]: [], [STREAM_STDERR]: [] };
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= FRAME_HEADER_SIZE) {
        const size = buf.readUInt32BE(4);
        if (buf.length < FRAME_HEADER_SIZE + size) break;
        expect(buf.subarray(1, 4).equals(Buffer.alloc(3))).toBe(true);
        const stream = buf[0];
        expect([STREAM_STDOUT, STREAM_STDERR]).toContain(stream);
        chunks[stream].push(buf.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + size));
        buf = buf.subarray(FRAME_HEADER_SIZE + size);
      }
    });
    const ended = new Promise<void>((r) => sock.on('end', () => r()));
    sock.on('error', reject);
    sock.on('connect', () =>
      resolve({
        sock,
        ended,
        stdout: () => Buffer.concat(chunks[STREAM_STDOUT]).toString(),
        stderr: () => Buffer.concat(chunks[STREAM_STDERR]).toString(),
      }),
    );
  });
}

function readLog(file: string) {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const m = LOG_LINE.exec(line);
      if (!m) throw new Error(`bad k8s-file line: ${JSON.stringify(line)}`);
      if (Number.isNaN(Date.parse(m[1]))) throw new Error(`bad timestamp: ${m[1]}`);
      return { stream: m[2], tag: m[3], text: m[4] };
    });
}

const exitFile = (m: Monitor) => path.join(m.exitDir, m.cid);
const waitExitFile = (m: Monitor) =>
  waitFor(`exit file of ${m.cid}`, () => fs.existsSync(exitFile(m)) && fs.readFileSync(exitFile(m), 'utf8'));

const requirements = [
  !isRoot && 'root',
  !hasRunc && 'runc',
  !hasBusybox && '/bin/busybox (busybox-static)',
  !fs.existsSync(bin) && `${bin} (make -C src/native ../../build/tspod-monitor)`,
].filter(Boolean);

describe.skipIf(requirements.length > 0)(`tspod-monitor (needs ${requirements.join(', ') || 'nothing missing'})`, () => {
  beforeAll(() => {
    base = fs.mkdtempSync('/tmp/tspod-mon-');
    rootfs = path.join(base, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
    for (const tool of ['sh', 'echo', 'cat', 'sleep', 'true', 'stty', 'printf', 'kill']) {
      fs.symlinkSync('busybox', path.join(rootfs, 'bin', tool));
    }
    const specDir = path.join(base, 'spec');
    fs.mkdirSync(specDir);
    execFileSync('runc', ['spec', '--bundle', specDir]);
    specTemplate = JSON.parse(fs.readFileSync(path.join(specDir, 'config.json'), 'utf8'));
    return () => {
      for (const cid of cids) spawnSync('runc', ['--root', runcRoot(), 'delete', '--force', cid]);
      fs.rmSync(base, { recursive: true, force: true });
    };
  });

  afterEach(async () => {
    // End whatever this test started, by pid: the container (via runc), then its monitor.
    for (const m of started.splice(0)) {
      spawnSync('runc', ['--root', runcRoot(), 'delete', '--force', m.cid]);
      let pid = 0;
      try {
        pid = m.monitorPid();
      } catch {}
      if (pid > 0 && alive(pid)) {
        await sleep(200);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      m.shell.stdio.forEach((s) => (s as net.Socket | null)?.destroy());
    }
  });

  it('logs stdout/stderr as k8s-file, streams to a client attached before start, records exit 3, runs the exit command, outlives its parent', async () => {
    const done = path.join(base, 'basic-done');
    const m = startMonitor({
      name: 'basic',
      proc: { args: ['sh', '-c', 'echo out; echo err >&2; printf partial; exit 3'] },
      exitCommand: `echo done > ${done}`,
    });
    // The process we spawned exits 0 once the monitor is set up: sockets listening, pidfile written.
    expect(await m.shellExit).toBe(0);
    const pid = m.monitorPid();
    expect(alive(pid)).toBe(true);
    expect(statusField(pid, 'PPid')).not.toBe(m.shell.pid);
    expect(fs.statSync(path.join(m.socketDir, ATTACH_SOCKET)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(m.socketDir, CTL_FIFO)).isFIFO()).toBe(true);

    const client = await attachStream(m);
    m.start();
    const created = await m.event('created');
    expect(created.pid).toBeGreaterThan(0);
    expect(runc('state', m.cid)).toContain('"status": "created"');
    runc('start', m.cid);

    await client.ended;
    expect(client.stdout()).toBe('out\npartial');
    expect(client.stderr()).toBe('err\n');
    expect((await m.event('exited')).exitCode).toBe(3);
    expect(await waitExitFile(m)).toBe('3');
    expect(await waitFor('exit command', () => fs.existsSync(done) && fs.readFileSync(done, 'utf8'))).toBe('done\n');
    await m.syncClosed;

    const log = readLog(m.logPath);
    expect(log.filter((l) => l.stream === 'stdout')).toEqual([
      { stream: 'stdout', tag: 'F', text: 'out' },
      { stream: 'stdout', tag: 'P', text: 'partial' },
    ]);
    expect(log.filter((l) => l.stream === 'stderr')).toEqual([{ stream: 'stderr', tag: 'F', text: 'err' }]);
    // The monitor removes its sockets and FIFO on the way out.
    expect(fs.existsSync(path.join(m.socketDir, ATTACH_SOCKET))).toBe(false);
    expect(fs.existsSync(path.join(m.socketDir, CTL_FIFO))).toBe(false);
  });

  it('records 137 for a container killed with SIGKILL; small RSS while it runs', async () => {
    const m = startMonitor({ name: 'kill', proc: { args: ['sleep', '1000'] }, startPipe: false });
    const created = await m.event('created');
    runc('start', m.cid);
    await waitFor('running', () => runc('state', m.cid).includes('"status": "running"'));
    const pid = m.monitorPid();
    // The container process is the monitor's child (subreaper) and got exactly fds 0, 1, 2.
    expect(statusField(created.pid!, 'PPid')).toBe(pid);
    expect(fs.readdirSync(`/proc/${created.pid}/fd`).sort()).toEqual(['0', '1', '2']);
    const rssKb = statusField(pid, 'VmRSS');
    const anonKb = statusField(pid, 'RssAnon');
    console.log(`tspod-monitor VmRSS ${rssKb} kB (RssAnon ${anonKb} kB)`);
    if (!process.env.TSPOD_MONITOR_BIN) {
      // (A sanitizer build is allowed to be big.) conmon 2.1.6 on the same host: 2128 kB, 328 kB anon.
      expect(anonKb).toBeLessThan(512);
      if (isStatic()) expect(rssKb).toBeLessThan(1024);
      else expect(rssKb).toBeLessThan(2048); // libc's shared pages; a -static build stays under 1 MiB
    }

    process.kill(created.pid!, 'SIGKILL');
    expect((await m.event('exited')).exitCode).toBe(137);
    expect(await waitExitFile(m)).toBe('137');
    await waitFor('monitor exit', () => !alive(pid));
  });

  it('forwards SIGTERM to the container; a SIGTERM before the start pipe aborts cleanly', async () => {
    // PID 1 of a pid namespace only gets signals it has a handler for: trap it.
    const m = startMonitor({
      name: 'term',
      proc: { args: ['sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; sleep 1000 & wait'] },
    });
    expect(await m.shellExit).toBe(0);
    const client = await attachStream(m);
    m.start();
    await m.event('created');
    runc('start', m.cid);
    await waitFor('trap installed', () => client.stdout().includes('ready'));
    process.kill(m.monitorPid(), 'SIGTERM');
    expect((await m.event('exited')).exitCode).toBe(42);
    await client.ended;
    expect(client.stdout()).toBe('ready\ngot-term\n');

    const w = startMonitor({ name: 'term-early', proc: { args: ['true'] } });
    expect(await w.shellExit).toBe(0);
    process.kill(w.monitorPid(), 'SIGTERM');
    expect((await w.event('error')).message).toContain('interrupted');
    await waitFor('monitor exit', () => !alive(w.monitorPid()));
    expect(runc('list', '-q')).not.toContain(w.cid);
    expect(fs.readdirSync(w.socketDir)).toEqual([]);
  });

  it('pipes stdin from the attach socket and closes it on the client EOF (echo x | run -i cat)', async () => {
    const m = startMonitor({ name: 'stdin', proc: { args: ['cat'] }, flags: ['--stdin'] });
    expect(await m.shellExit).toBe(0);
    const client = await attachStream(m);
    client.sock.end('hello\nworld\n'); // input, then shutdown(SHUT_WR), before the container starts
    m.start();
    await m.event('created');
    runc('start', m.cid);
    await client.ended;
    expect(client.stdout()).toBe('hello\nworld\n');
    expect((await m.event('exited')).exitCode).toBe(0);
    expect(readLog(m.logPath).map((l) => l.text)).toEqual(['hello', 'world']);
  });

  it('moves megabytes both ways without loss while the client stalls (backpressure)', async () => {
    const m = startMonitor({ name: 'bulk', proc: { args: ['cat'] }, flags: ['--stdin'] });
    expect(await m.shellExit).toBe(0);
    const client = await attachStream(m);
    const input = Array.from({ length: 150_000 }, (_, i) => `line ${i}\n`).join('') + 'no newline at the end';
    m.start();
    await m.event('created');
    runc('start', m.cid);
    client.sock.end(input);
    client.sock.pause(); // a stalled reader: the monitor must hold output back, not drop it
    await sleep(500);
    client.sock.resume();
    await client.ended;
    expect(client.stdout().length).toBe(input.length);
    expect(client.stdout() === input).toBe(true);
    expect((await m.event('exited')).exitCode).toBe(0);
    // The log holds the same bytes: F records end a line, P records continue one.
    const fromLog = readLog(m.logPath)
      .map((l) => (l.tag === 'F' ? `${l.text}\n` : l.text))
      .join('');
    expect(fromLog === input).toBe(true);
  });

  it('works with a socket dir path longer than sun_path (terminal: console socket too)', async () => {
    const name = `long-${'x'.repeat(120)}`;
    const m = startMonitor({
      name,
      cid: `tspod-mon-long-${process.pid}`,
      bundle: makeBundle('long', { args: ['sh', '-c', 'echo long-ok'], terminal: true }),
      flags: ['--terminal'],
    });
    cids.push(m.cid);
    expect(m.socketDir.length).toBeGreaterThan(108);
    expect(await m.shellExit).toBe(0);
    // Node cannot connect to such a path either: go through /proc/self/fd/<dirfd>, as the CLI must.
    const dirfd = fs.openSync(m.socketDir, 'r');
    try {
      const client = await attachStream({ ...m, socketDir: `/proc/self/fd/${dirfd}` });
      m.start();
      await m.event('created');
      runc('start', m.cid);
      await client.ended;
      expect(client.stdout()).toBe('long-ok\r\n');
    } finally {
      fs.closeSync(dirfd);
    }
    expect((await m.event('exited')).exitCode).toBe(0);
  });

  it.skipIf(!hasCc)('speaks the conmon SEQPACKET protocol on <socket-dir>/attach (needs cc)', async () => {
    // A tiny client: connect, send argv[2] as one packet, shutdown(SHUT_WR), print "<id> <hex>" per packet.
    const src = path.join(base, 'seqclient.c');
    const exe = path.join(base, 'seqclient');
    fs.writeFileSync(
      src,
      `#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  char buf[9000];
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
  if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0) { perror("connect"); return 1; }
  fprintf(stderr, "connected\\n");
  if (send(fd, argv[2], strlen(argv[2]), 0) < 0 || shutdown(fd, SHUT_WR) < 0) { perror("send"); return 1; }
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return n < 0;
    printf("%d ", buf[0]);
    for (ssize_t i = 1; i < n; i++) printf("%02x", (unsigned char) buf[i]);
    printf("\\n");
    fflush(stdout);
  }
}
`,
    );
    execFileSync('cc', ['-o', exe, src]);
    const m = startMonitor({ name: 'seq', proc: { args: ['sh', '-c', 'cat; echo bye >&2'] }, flags: ['--stdin'] });
    expect(await m.shellExit).toBe(0);
    const client = spawn(exe, [path.join(m.socketDir, ATTACH_SOCKET), 'ping\n'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    client.stdout!.on('data', (d) => (out += d));
    client.stderr!.on('data', (d) => (err += d));
    const clientExit = new Promise<number | null>((r) => client.on('exit', (c) => r(c)));
    await waitFor('seqpacket client connected', () => err.includes('connected'));
    m.start();
    await m.event('created');
    runc('start', m.cid);
    expect(await clientExit).toBe(0);
    const packets = out
      .trim()
      .split('\n')
      .map((l) => {
        const [id, hex] = l.split(' ');
        return [Number(id), Buffer.from(hex ?? '', 'hex').toString()];
      });
    expect(packets).toEqual([
      [STREAM_STDOUT, 'ping\n'],
      [STREAM_STDERR, 'bye\n'],
    ]);
    expect((await m.event('exited')).exitCode).toBe(0);
  });

  it('terminal: takes the pty from the console socket and resizes it through the ctl FIFO', async () => {
    const m = startMonitor({
      name: 'tty',
      proc: { args: ['sh', '-c', 'read x; stty size; exit 4'], terminal: true },
      flags: ['--terminal', '--stdin'],
    });
    expect(await m.shellExit).toBe(0);
    const client = await attachStream(m);
    m.start();
    await m.event('created');
    runc('start', m.cid);
    fs.writeFileSync(path.join(m.socketDir, CTL_FIFO), `${CTL_RESIZE} 33 99\n`);
    await sleep(300); // the FIFO and the socket are separate fds: let the resize land first
    client.sock.write('go\n');
    await client.ended;
    expect(client.stdout()).toContain('33 99');
    expect(client.stderr()).toBe('');
    expect((await m.event('exited')).exitCode).toBe(4);
    const log = readLog(m.logPath);
    expect(log.every((l) => l.stream === 'stdout')).toBe(true);
    expect(log.some((l) => l.text.includes('33 99'))).toBe(true);
  });

  it('reopens the log file on "2 0 0" through the ctl FIFO', async () => {
    const m = startMonitor({
      name: 'reopen',
      proc: { args: ['sh', '-c', 'echo first; read x; echo second'] },
      flags: ['--stdin'],
    });
    expect(await m.shellExit).toBe(0);
    const client = await attachStream(m);
    m.start();
    await m.event('created');
    runc('start', m.cid);
    await waitFor('first line', () => client.stdout().includes('first'));
    fs.renameSync(m.logPath, `${m.logPath}.1`);
    fs.writeFileSync(path.join(m.socketDir, CTL_FIFO), `${CTL_REOPEN_LOG} 0 0\n`);
    await waitFor('reopened log', () => fs.existsSync(m.logPath));
    client.sock.end('go\n');
    await client.ended;
    expect((await m.event('exited')).exitCode).toBe(0);
    expect(readLog(`${m.logPath}.1`).map((l) => l.text)).toEqual(['first']);
    expect(readLog(m.logPath).map((l) => l.text)).toEqual(['second']);
  });

  it('truncates the log when --log-size-max is reached', async () => {
    const m = startMonitor({
      name: 'logmax',
      proc: { args: ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done'] },
      flags: ['--log-size-max', '2000'],
      startPipe: false,
    });
    await m.event('created');
    runc('start', m.cid);
    expect((await m.event('exited')).exitCode).toBe(0);
    expect(fs.statSync(m.logPath).size).toBeLessThanOrEqual(2000);
    const texts = readLog(m.logPath).map((l) => l.text);
    expect(texts.at(-1)).toBe('line299');
    expect(texts).not.toContain('line0');
    // What is left is a contiguous tail.
    const first = Number(texts[0].slice(4));
    expect(texts).toEqual(Array.from({ length: 300 - first }, (_, i) => `line${first + i}`));
  });

  it('passthrough: the container writes to the monitor’s own stdout', async () => {
    const m = startMonitor({
      name: 'passthrough',
      proc: { args: ['sh', '-c', 'echo through'] },
      flags: ['--log-driver', 'passthrough'],
      startPipe: false,
    });
    await m.event('created');
    runc('start', m.cid);
    expect((await m.event('exited')).exitCode).toBe(0);
    await waitFor('passthrough output', () => m.shellStdout().includes('through\n'));
    expect(fs.existsSync(m.logPath)).toBe(false);
  });

  it('reports a failing create as an error event and leaves nothing behind', async () => {
    const bundle = path.join(base, 'broken-bundle');
    fs.mkdirSync(bundle); // no config.json
    const m = startMonitor({ name: 'broken', bundle });
    expect(await m.shellExit).toBe(0);
    const pid = m.monitorPid();
    m.start();
    const e = await m.event('error');
    expect(e.message).toContain('config.json');
    await m.syncClosed;
    expect(m.events.map((x) => x.event)).toEqual(['error']);
    await waitFor('monitor exit', () => !alive(pid));
    expect(runc('list', '-q')).not.toContain(m.cid);
    expect(fs.readdirSync(m.socketDir)).toEqual([]);
    expect(fs.existsSync(exitFile(m))).toBe(false);
  });

  it('runs an exec session (--exec --exec-attach): started, output, exit code 5', async () => {
    const ctr = startMonitor({ name: 'execctr', proc: { args: ['sleep', '1000'] }, startPipe: false });
    await ctr.event('created');
    runc('start', ctr.cid);
    const spec = path.join(base, 'exec-process.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        ...specTemplate.process,
        terminal: false,
        args: ['sh', '-c', 'echo exec-out; echo exec-err >&2; exit 5'],
      }),
    );
    const ex = startMonitor({
      name: 'exec',
      cid: ctr.cid,
      bundle: path.join(base, 'execctr', 'bundle'),
      flags: ['--exec', '--exec-process-spec', spec, '--exec-attach', '--log-driver', 'none'],
    });
    expect(await ex.shellExit).toBe(0);
    const client = await attachStream(ex);
    ex.start();
    expect((await ex.event('started')).pid).toBeGreaterThan(0);
    await client.ended;
    expect(client.stdout()).toBe('exec-out\n');
    expect(client.stderr()).toBe('exec-err\n');
    expect((await ex.event('exited')).exitCode).toBe(5);
    expect(await waitExitFile(ex)).toBe('5');
    expect(fs.existsSync(ex.logPath)).toBe(false); // --log-driver none
    // The container itself is untouched.
    expect(runc('state', ctr.cid)).toContain('"status": "running"');
  });

  it('--net-helper: started after create against the bind-mounted netns, `network` before `created`, killed at exit', async () => {
    const m = startMonitor({
      name: 'nethelper',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      flags: ['--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'test -e {netns} && echo {pid} >&{ready-fd} && exec sleep 1000',
        '--netns-path', path.join(base, 'nethelper', 'netns')],
    });
    const net = await m.event('network' as never);
    const created = await m.event('created');
    expect(m.events.map((e) => e.event)).toEqual(['network', 'created']);
    const pid = m.monitorPid();
    expect(alive(net.pid!)).toBe(true);
    expect(statusField(net.pid!, 'PPid')).toBe(pid);
    // The netns file is the container's network namespace.
    const netns = path.join(base, 'nethelper', 'netns');
    expect(fs.statSync(netns).ino).toBe(fs.statSync(`/proc/${created.pid}/ns/net`).ino);
    runc('start', m.cid);
    process.kill(created.pid!, 'SIGKILL');
    expect((await m.event('exited')).exitCode).toBe(137);
    // SIGKILLed before the exit is reported, but not waited for (without --net-helper-ports): a
    // sandboxed slirp4netns takes ~20 ms to die
    await waitFor('helper exit', () => !alive(net.pid!));
    expect(fs.existsSync(netns)).toBe(false);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(netns);
  });

  it('--net-helper: a helper that fails is an error event with its output; nothing is left behind', async () => {
    const m = startMonitor({
      name: 'nethelperfail',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      flags: ['--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'echo no tap for {pid} >&2; exit 3 # {ready-file}',
        '--netns-path', path.join(base, 'nethelperfail', 'netns')],
    });
    const e = await m.event('error');
    expect(e.message).toMatch(/^\/bin\/sh exited before it was ready: no tap for \d+$/);
    await m.syncClosed;
    await waitFor('monitor exit', () => !alive(m.monitorPid()));
    expect(runc('list', '-q')).not.toContain(m.cid);
    expect(fs.existsSync(path.join(base, 'nethelperfail', 'netns'))).toBe(false);
  });

  it('--port-helper: started beside the net helper, `network` once both are ready; killed first at exit', async () => {
    const m = startMonitor({
      name: 'porthelper',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      flags: ['--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'echo x >&{ready-fd}; exec sleep 1000',
        '--netns-path', path.join(base, 'porthelper', 'netns'),
        '--port-helper', '/bin/sh', '--port-helper-arg', '-c', '--port-helper-arg', 'test -e {netns} && echo $$ > {netns}.portpid && echo x >&{ready-fd} && exec sleep 1000'],
    });
    await m.event('network' as never);
    const created = await m.event('created');
    const portPid = Number(fs.readFileSync(path.join(base, 'porthelper', 'netns.portpid'), 'utf8'));
    expect(alive(portPid)).toBe(true);
    expect(statusField(portPid, 'PPid')).toBe(m.monitorPid());
    runc('start', m.cid);
    process.kill(created.pid!, 'SIGKILL');
    expect((await m.event('exited')).exitCode).toBe(137);
    expect(alive(portPid)).toBe(false);
  });

  it('--port-helper: one that fails is an error event naming it, with its output; the net helper goes too', async () => {
    const m = startMonitor({
      name: 'porthelperfail',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      flags: ['--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'echo $$ > {netns}.netpid; echo x >&{ready-fd}; exec sleep 1000',
        '--netns-path', path.join(base, 'porthelperfail', 'netns'),
        '--port-helper', '/bin/sh', '--port-helper-arg', '-c', '--port-helper-arg', 'echo cannot publish port 80/tcp >&2; exit 1 # {ready-fd}'],
    });
    const e = await m.event('error');
    expect(e.message).toBe('/bin/sh exited before it was ready: cannot publish port 80/tcp');
    await m.syncClosed;
    await waitFor('monitor exit', () => !alive(m.monitorPid()));
    const netPid = Number(fs.readFileSync(path.join(base, 'porthelperfail', 'netns.netpid'), 'utf8'));
    expect(alive(netPid)).toBe(false);
    expect(runc('list', '-q')).not.toContain(m.cid);
  });

  it('--net-helper-ports: a helper that holds host ports is gone (reaped) before the exit is reported', async () => {
    const dir = path.join(base, 'helperports');
    const m = startMonitor({
      name: 'helperports',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      netnsPath: path.join(dir, 'netns'),
      flags: ['--start', '--netns-create', '--netns-path', path.join(dir, 'netns'), '--net-helper-ports',
        '--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'echo x >&{ready-fd}; exec sleep 1000'],
    });
    const net = await m.event('network' as never);
    const started = await m.event('started');
    expect(alive(net.pid!)).toBe(true);
    process.kill(started.pid!, 'SIGKILL');
    expect((await m.event('exited')).exitCode).toBe(137);
    expect(alive(net.pid!)).toBe(false);
  });

  it('--netns-create --start: the netns and the helpers come first, then one runtime call; the container is in that netns', async () => {
    const dir = path.join(base, 'netnscreate');
    const m = startMonitor({
      name: 'netnscreate',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      netnsPath: path.join(dir, 'netns'),
      flags: ['--start', '--netns-create', '--netns-path', path.join(dir, 'netns'),
        '--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'stat -L -c %i {netns} > {netns}.ino; echo x >&{ready-fd}; exec sleep 1000'],
    });
    const net = await m.event('network' as never);
    const started = await m.event('started');
    expect(m.events.map((e) => e.event)).toEqual(['network', 'started']);
    const netns = path.join(dir, 'netns');
    // The helper saw the namespace the container now runs in, and it is not the monitor's.
    expect(Number(fs.readFileSync(`${netns}.ino`, 'utf8'))).toBe(fs.statSync(`/proc/${started.pid}/ns/net`).ino);
    expect(fs.statSync(`/proc/${started.pid}/ns/net`).ino).not.toBe(fs.statSync('/proc/self/ns/net').ino);
    expect(alive(net.pid!)).toBe(true);
    process.kill(started.pid!, 'SIGKILL');
    expect((await m.event('exited')).exitCode).toBe(137);
    // SIGKILLed before the exit is reported, but not waited for (without --net-helper-ports): a
    // sandboxed slirp4netns takes ~20 ms to die
    await waitFor('helper exit', () => !alive(net.pid!));
    expect(fs.existsSync(netns)).toBe(false);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(netns);
  });

  it('--net-helper with --start needs --netns-create', async () => {
    const m = startMonitor({ name: 'nethelperstart', proc: { args: ['true'] }, startPipe: false, flags: ['--start', '--net-helper', '/bin/true'] });
    expect((await m.event('error')).message).toMatch(/--start without --netns-create/);
  });

  it('--port-helper without --net-helper is refused', async () => {
    const m = startMonitor({ name: 'porthelperalone', proc: { args: ['true'] }, startPipe: false, flags: ['--port-helper', '/bin/true'] });
    expect((await m.event('error')).message).toMatch(/--port-helper and --port-helper-arg need --net-helper/);
  });

  it('--net-helper: the helper dies with a monitor killed with SIGKILL (PR_SET_PDEATHSIG)', async () => {
    const m = startMonitor({
      name: 'nethelperpdeath',
      proc: { args: ['sleep', '1000'] },
      startPipe: false,
      flags: ['--net-helper', '/bin/sh', '--net-helper-arg', '-c', '--net-helper-arg', 'echo 1 > {ready-file}; exec sleep 1000'],
    });
    const net = await m.event('network' as never);
    await m.event('created');
    process.kill(m.monitorPid(), 'SIGKILL');
    await waitFor('helper exit', () => !alive(net.pid!));
  });
});

/** Whether the monitor binary is statically linked (no PT_INTERP program header). */
function isStatic(): boolean {
  const elf = fs.readFileSync(bin);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}
