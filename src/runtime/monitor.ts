// The CLI side of tspod-monitor (src/native/monitor/main.c has the contract). Keep the constants
// in sync with src/native/monitor/monitor.h.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { TspodError } from '../errors.js';
import { trace } from '../util/trace.js';

// ---- keep in sync with src/native/monitor/monitor.h ----
export const ENV_SYNCPIPE = '_TSPOD_SYNCPIPE';
export const ENV_STARTPIPE = '_TSPOD_STARTPIPE';
export const ATTACH_STREAM_SOCKET = 'attach.stream';
export const CTL_FIFO = 'ctl';
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
export const FRAME_HEADER_SIZE = 8;
export const CTL_RESIZE = 1;
/** CLI -> monitor after `exited`: the CLI cleans up, no exit command needed. */
export const CLEANUP_ACK = 'c';
// ---- end keep in sync ----

export interface MonitorOptions {
  monitorPath: string;
  cid: string;
  bundle: string;
  runtime: string;
  runtimeArgs: string[];
  logDriver: 'k8s-file' | 'none' | 'passthrough';
  logPath?: string;
  logSizeMax?: number;
  exitDir: string;
  socketDir: string;
  terminal: boolean;
  stdin: boolean;
  exitCommand?: string;
  exitCommandArgs: string[];
  pidfile: string;
  env: NodeJS.ProcessEnv;
  /** An exec session: `<runtime> exec -d --process <processSpec>`; attach: the CLI connects before the start pipe. */
  exec?: { processSpec: string; attach: boolean };
  /** Create and start in one runtime call (`run --detach`); the event is then `started`. */
  start?: boolean;
  /** The network helper the monitor starts after create (placeholders: see nethelper.c); a `network` event then precedes `created`. */
  /** create: the monitor makes the netns at netnsPath and starts the helpers before the runtime (--netns-create). */
  netHelper?: { path: string; args: string[]; netnsPath?: string; portHelper?: { path: string; args: string[] }; holdsPorts?: boolean; create?: boolean };
}

export type MonitorEvent = { event: 'created' | 'started' | 'network'; pid: number } | { event: 'error'; message: string } | { event: 'exited'; exitCode: number };

/** Reads the monitor's JSON-lines events. */
export class EventReader {
  private buf = '';
  private queue: MonitorEvent[] = [];
  private waiters: Array<(e: MonitorEvent | undefined) => void> = [];
  private ended = false;

  constructor(readonly stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.trim()) continue;
        try {
          this.push(JSON.parse(line) as MonitorEvent);
        } catch {
          /* not ours */
        }
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private push(e: MonitorEvent): void {
    const w = this.waiters.shift();
    if (w) w(e);
    else this.queue.push(e);
  }

  /** The next event, or undefined when the monitor closed the pipe. */
  next(): Promise<MonitorEvent | undefined> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  /** Tells the monitor this CLI does the cleanup (answer to `exited`). */
  async ackCleanup(): Promise<void> {
    const w = this.stream as unknown as { write?: (d: string, cb: () => void) => boolean };
    if (!w.write) return;
    await new Promise<void>((resolve) => {
      try {
        w.write!(CLEANUP_ACK, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  close(): void {
    this.stream.destroy();
  }
}

export interface StartedMonitor {
  monitorPid: number;
  events: EventReader;
  /** Writing a byte (or closing it) lets the monitor run the runtime. */
  startPipe: Writable;
}

/** Spawns the monitor and waits until its sockets accept connections. */
export async function spawnMonitor(o: MonitorOptions): Promise<StartedMonitor> {
  const args = ['--cid', o.cid, '--bundle', o.bundle, '--runtime', o.runtime];
  for (const a of o.runtimeArgs) args.push('--runtime-arg', a);
  args.push('--log-driver', o.logDriver);
  if (o.logPath) args.push('--log-path', o.logPath);
  if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
  args.push('--exit-dir', o.exitDir, '--socket-dir', o.socketDir, '--pidfile', o.pidfile);
  if (o.terminal) args.push('--terminal');
  if (o.stdin) args.push('--stdin');
  if (o.exec) {
    args.push('--exec', '--exec-process-spec', o.exec.processSpec);
    if (o.exec.attach) args.push('--exec-attach');
  }
  if (o.start) args.push('--start');
  if (o.netHelper) {
    args.push('--net-helper', o.netHelper.path);
    for (const a of o.netHelper.args) args.push('--net-helper-arg', a);
    if (o.netHelper.netnsPath) args.push('--netns-path', o.netHelper.netnsPath);
    if (o.netHelper.create) args.push('--netns-create');
    if (o.netHelper.holdsPorts) args.push('--net-helper-ports');
    if (o.netHelper.portHelper) {
      args.push('--port-helper', o.netHelper.portHelper.path);
      for (const a of o.netHelper.portHelper.args) args.push('--port-helper-arg', a);
    }
  }
  if (o.exitCommand) {
    args.push('--exit-command', o.exitCommand);
    for (const a of o.exitCommandArgs) args.push('--exit-command-arg', a);
  }
  trace('monitor: spawning');
  const child = spawn(o.monitorPath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...o.env, [ENV_SYNCPIPE]: '3', [ENV_STARTPIPE]: '4' },
    detached: true,
  });
  trace('monitor: spawned');
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const sync = child.stdio[3] as Readable;
  const start = child.stdio[4] as Writable;
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new TspodError('internal', `starting tspod-monitor: ${e.message}`, { hint: 'Reinstall tspod: the native helpers are missing' })));
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  child.unref();
  if (code !== 0) {
    sync.destroy();
    start.destroy();
    throw new TspodError('runtime', `starting the container monitor: ${stderr.trim() || `exit ${code}`}`);
  }
  const monitorPid = Number(readFileSync(o.pidfile, 'utf8').trim());
  return { monitorPid, events: new EventReader(sync), startPipe: start };
}

/**
 * Connects to the monitor's stream attach socket. A path longer than sun_path allows (108 bytes) is
 * reached relative to its directory: connect() resolves it synchronously, so a chdir around the
 * call is enough (node runs one thread of JavaScript).
 */
export function connectAttach(socketDir: string): Promise<Socket> {
  const full = join(socketDir, ATTACH_STREAM_SOCKET);
  return new Promise((resolve, reject) => {
    let s: Socket;
    if (Buffer.byteLength(full) < 108) s = connect(full);
    else {
      const cwd = process.cwd();
      process.chdir(socketDir);
      try {
        s = connect(ATTACH_STREAM_SOCKET);
      } finally {
        process.chdir(cwd);
      }
    }
    s.once('connect', () => resolve(s));
    s.once('error', (e) => reject(new TspodError('runtime', `attaching to the container: ${e.message}`)));
  });
}

/** Splits the monitor's framed stream into stdout and stderr writes. */
export function demux(sock: Socket, out: Writable, err: Writable): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= FRAME_HEADER_SIZE) {
        const len = pending.readUInt32BE(4);
        if (pending.length < FRAME_HEADER_SIZE + len) break;
        const id = pending[0];
        const data = pending.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len);
        (id === STREAM_STDERR ? err : out).write(data);
        pending = pending.subarray(FRAME_HEADER_SIZE + len);
      }
    });
    sock.on('end', () => resolve());
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
}
