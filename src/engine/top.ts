// top: the processes of a running container, read from the host's /proc. Nothing from the
// container's root is executed or loaded on the host (podman CVE-2022-1227); user and group names
// come from the container's /etc/passwd and /etc/group, parsed through the RootfsView. Descriptors
// follow podman's (psgo's AIX format descriptors); anything else runs `ps` *inside* the container
// through an exec session, as podman does.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { TspodError } from '../errors.js';
import { CONTAINER_FILE_MAX, readContainerFile } from '../runtime/confine.js';
import { parseGroup, parsePasswd } from '../runtime/user.js';
import type { ContainerRecord } from '../storage/containers.js';
import { lookupContainer, monitorAlive, syncStates } from './containers.js';
import type { Engine } from './index.js';
import { viewOf } from './lifecycle.js';

export const DEFAULT_DESCRIPTORS = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

const HEADERS: Record<string, string> = {
  args: 'COMMAND',
  comm: 'COMMAND',
  etime: 'ELAPSED',
  group: 'GROUP',
  hgroup: 'HGROUP',
  hpid: 'HPID',
  huser: 'HUSER',
  nice: 'NI',
  pcpu: '%CPU',
  pgid: 'PGID',
  pid: 'PID',
  ppid: 'PPID',
  rgroup: 'RGROUP',
  ruser: 'RUSER',
  state: 'STATE',
  stime: 'STIME',
  time: 'TIME',
  tty: 'TTY',
  user: 'USER',
  vsz: 'VSZ',
};

/** What `top` prints: rows of cells (the header first), or the text `ps` printed in the container. */
export type TopResult = { rows: string[][] } | { text: string };

const CLK_TCK = 100; // USER_HZ: fixed at 100 on every Linux ABI that exposes it through /proc
const PROC_TEXT_MAX = 64 * 1024;

interface ProcInfo {
  hostPid: number;
  nsPid: number;
  hostPpid: number;
  uid: { real: number; eff: number };
  gid: { real: number; eff: number };
  state: string;
  pgrp: number;
  ttyNr: number;
  utime: number;
  stime: number;
  nice: number;
  startTicks: number;
  vsize: number;
  comm: string;
  cmdline: string[];
  userNs: string;
}

function readText(p: string): string | undefined {
  try {
    const s = readFileSync(p, 'utf8');
    return s.length > PROC_TEXT_MAX ? s.slice(0, PROC_TEXT_MAX) : s;
  } catch {
    return undefined;
  }
}

function link(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

function readProc(pid: number): ProcInfo | undefined {
  const status = readText(`/proc/${pid}/status`);
  const stat = readText(`/proc/${pid}/stat`);
  if (status === undefined || stat === undefined) return undefined;
  const field = (name: string): string[] => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]!.trim().split(/\s+/) ?? [];
  const nspid = field('NSpid').map(Number);
  const uids = field('Uid').map(Number);
  const gids = field('Gid').map(Number);
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const close = stat.lastIndexOf(')');
  const f = stat.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const num = (i: number): number => Number(f[i - 3] ?? 0);
  const cmd = readText(`/proc/${pid}/cmdline`) ?? '';
  return {
    hostPid: pid,
    nsPid: nspid.length ? nspid[nspid.length - 1]! : pid,
    hostPpid: Number(field('PPid')[0] ?? 0),
    uid: { real: uids[0] ?? 0, eff: uids[1] ?? 0 },
    gid: { real: gids[0] ?? 0, eff: gids[1] ?? 0 },
    state: f[0] ?? '?',
    pgrp: num(5),
    ttyNr: num(7),
    utime: num(14),
    stime: num(15),
    nice: num(19),
    startTicks: num(22),
    vsize: num(23),
    comm: (readText(`/proc/${pid}/comm`) ?? stat.slice(stat.indexOf('(') + 1, close)).replace(/\n$/, ''),
    // psgo joins the NUL-separated cmdline with spaces, keeping the empty last element.
    cmdline: cmd === '' ? [] : cmd.split('\0'),
    userNs: link(`/proc/${pid}/ns/user`) ?? '',
  };
}

/** The container's processes: every process in its pid namespace (exec sessions included). */
function containerProcs(initPid: number): ProcInfo[] {
  const ns = link(`/proc/${initPid}/ns/pid`);
  if (!ns) throw new TspodError('runtime', `reading the processes of the container: /proc/${initPid} is gone`);
  const pids: number[] = [];
  if (ns !== link('/proc/self/ns/pid')) {
    for (const name of readdirSync('/proc')) {
      if (/^[0-9]+$/.test(name) && link(`/proc/${name}/ns/pid`) === ns) pids.push(Number(name));
    }
  } else {
    // Sharing our pid namespace: the init process and its descendants.
    const queue = [initPid];
    while (queue.length) {
      const p = queue.shift()!;
      pids.push(p);
      let tasks: string[] = [];
      try {
        tasks = readdirSync(`/proc/${p}/task`);
      } catch {
        continue;
      }
      for (const t of tasks) {
        for (const c of (readText(`/proc/${p}/task/${t}/children`) ?? '').split(/\s+/)) if (c) queue.push(Number(c));
      }
    }
  }
  return pids
    .map(readProc)
    .filter((p): p is ProcInfo => p !== undefined)
    .sort((a, b) => a.nsPid - b.nsPid);
}

/** An id as this process sees it, mapped into the user namespace of `pid` (when that is another one). */
function idMapper(pid: number, kind: 'uid' | 'gid'): (id: number) => number {
  if (link(`/proc/${pid}/ns/user`) === link('/proc/self/ns/user')) return (id) => id;
  const map = (readText(`/proc/${pid}/${kind}_map`) ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((l) => l.length === 3);
  return (id) => {
    for (const [inside, outside, count] of map) if (id >= outside! && id < outside! + count!) return inside! + (id - outside!);
    return 65534;
  };
}

/** Our own ids as the host sees them (huser, hgroup). */
function hostMapper(kind: 'uid' | 'gid'): (id: number) => number {
  const map = (readText(`/proc/self/${kind}_map`) ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((l) => l.length === 3);
  return (id) => {
    for (const [inside, outside, count] of map) if (id >= inside! && id < inside! + count!) return outside! + (id - inside!);
    return id;
  };
}

/** Go's time.Duration.String() of a number of nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.round(Math.abs(ns));
  const frac = (v: number, prec: number): string => {
    const s = String(v).padStart(prec + 1, '0');
    const int = s.slice(0, s.length - prec);
    const dec = s.slice(s.length - prec).replace(/0+$/, '');
    return dec ? `${int}.${dec}` : int;
  };
  let out: string;
  if (u < 1e9) {
    if (u < 1e3) out = `${u}ns`;
    else if (u < 1e6) out = `${frac(u, 3)}µs`;
    else out = `${frac(u, 6)}ms`;
  } else {
    const h = Math.floor(u / 3.6e12);
    u -= h * 3.6e12;
    const m = Math.floor(u / 6e10);
    u -= m * 6e10;
    out = `${frac(u, 9)}s`;
    if (h > 0) out = `${h}h${m}m${out}`;
    else if (m > 0) out = `${m}m${out}`;
  }
  return neg ? `-${out}` : out;
}

function ttyName(nr: number): string {
  if (nr === 0) return '?';
  const major = (nr >> 8) & 0xfff;
  const minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return 'console';
  return '?';
}

/** Go's time.Time.String() at second precision, in local time. */
function goTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone =
    off === 0 && (process.env.TZ === undefined || /^(UTC|Etc\/UTC|)$/.test(process.env.TZ))
      ? 'UTC'
      : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '');
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(a / 60))}${p(a % 60)} ${zone}`;
}

/** Nothing the container controls may steer the terminal: non-printable characters show as '?', as in ps. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, '?');
}

function bootTimeSec(): number {
  return Number(/^btime\s+(\d+)$/m.exec(readText('/proc/stat') ?? '')?.[1] ?? 0);
}

/** Splits `top` arguments into descriptors (commas or words); undefined when one is not ours. */
export function parseDescriptors(args: string[]): string[] | undefined {
  if (args.length === 0) return DEFAULT_DESCRIPTORS;
  const list = args.flatMap((a) => a.split(',')).filter((d) => d !== '');
  if (!list.length || list.some((d) => !(d in HEADERS))) return undefined;
  return list;
}

async function runningContainer(engine: Engine, input: string): Promise<ContainerRecord> {
  const cs = engine.containers();
  await syncStates(cs);
  const rec = lookupContainer(cs, input);
  if (rec.state.status !== 'running' || !monitorAlive(rec) || !rec.state.pid) {
    throw new TspodError('invalid-argument', 'top can only be used on running containers');
  }
  return rec;
}

export async function topContainer(engine: Engine, input: string, args: string[]): Promise<TopResult> {
  const rec = await runningContainer(engine, input);
  const descriptors = parseDescriptors(args);
  if (!descriptors) return psInContainer(engine, rec, args);

  const procs = containerProcs(rec.state.pid);
  const view = viewOf(join(engine.containers().dir(rec.id), 'merged'));
  let users: Map<number, string> | undefined;
  let groups: Map<number, string> | undefined;
  const userName = (uid: number): string => {
    users ??= new Map(parsePasswd(readContainerFile(view, '/etc/passwd', CONTAINER_FILE_MAX) ?? '').reverse().map((e) => [e.uid, e.name]));
    return users.get(uid) ?? String(uid);
  };
  const groupName = (gid: number): string => {
    groups ??= new Map(parseGroup(readContainerFile(view, '/etc/group', CONTAINER_FILE_MAX) ?? '').reverse().map((e) => [e.gid, e.name]));
    return groups.get(gid) ?? String(gid);
  };
  const mapUid = idMapper(rec.state.pid, 'uid');
  const mapGid = idMapper(rec.state.pid, 'gid');
  const hostUid = hostMapper('uid');
  const hostGid = hostMapper('gid');
  const nsPidOf = new Map(procs.map((p) => [p.hostPid, p.nsPid]));
  const nowNs = (performance.timeOrigin + performance.now()) * 1e6;
  const boot = bootTimeSec();

  const cell = (p: ProcInfo, d: string): string => {
    const startNs = (boot + p.startTicks / CLK_TCK) * 1e9;
    const elapsedNs = Math.max(0, nowNs - startNs);
    const cpuNs = ((p.utime + p.stime) / CLK_TCK) * 1e9;
    switch (d) {
      case 'user':
        return userName(mapUid(p.uid.eff));
      case 'ruser':
        return userName(mapUid(p.uid.real));
      case 'group':
        return groupName(mapGid(p.gid.eff));
      case 'rgroup':
        return groupName(mapGid(p.gid.real));
      case 'huser':
        return String(hostUid(p.uid.eff));
      case 'hgroup':
        return String(hostGid(p.gid.eff));
      case 'pid':
        return String(p.nsPid);
      case 'hpid':
        return String(p.hostPid);
      case 'ppid':
        return String(nsPidOf.get(p.hostPpid) ?? 0);
      case 'pgid':
        return String(nsPidOf.get(p.pgrp) ?? 0);
      case 'pcpu':
        return (elapsedNs > 0 ? (100 * cpuNs) / elapsedNs : 0).toFixed(3);
      case 'etime':
        return goDuration(Math.round(elapsedNs));
      case 'time':
        return goDuration(Math.round(cpuNs));
      case 'tty':
        return ttyName(p.ttyNr);
      case 'nice':
        return String(p.nice);
      case 'vsz':
        return String(Math.floor(p.vsize / 1024));
      case 'state':
        return p.state;
      case 'stime':
        return goTime(new Date(Math.floor(startNs / 1e9) * 1000));
      case 'comm':
        return printable(p.comm);
      case 'args':
        return printable(p.cmdline.length ? p.cmdline.join(' ') : `[${p.comm}]`);
      default:
        throw new TspodError('internal', `unknown descriptor ${d}`);
    }
  };
  return { rows: [descriptors.map((d) => HEADERS[d]!), ...procs.map((p) => descriptors.map((d) => cell(p, d)))] };
}

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Descriptors psgo does not know: podman runs ps(1) inside the container. So do we. */
async function psInContainer(engine: Engine, rec: ContainerRecord, args: string[]): Promise<TopResult> {
  const { execContainer } = await import('./exec.js');
  const out = new Collect();
  const err = new Collect();
  const r = await execContainer(
    engine,
    rec.id,
    { command: ['ps', ...args], tty: false, interactive: false, env: [], envFile: [], privileged: false },
    { stdout: out, stderr: err, interactive: false },
  );
  if (r.exitCode !== 0) {
    throw new TspodError('runtime', `ps(1) failed with exit code ${r.exitCode}: ${(err.text() || out.text()).trim()}`);
  }
  return { text: out.text() };
}
