// exec: run another process in a running container. Each session gets its own monitor (in --exec
// mode, no log) with its own socket and exit directories under <runRoot>/s/<cid12>-e<4 hex>; the
// process is the container's (config.json of its bundle: capabilities, rlimits, no_new_privs,
// user, env, cwd) with the session's options on top.
import { randomBytes } from '../util/random.js';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { normalizeContainerPath } from '../runtime/confine.js';
import { spawnMonitor, type StartedMonitor } from '../runtime/monitor.js';
import { findExecutable } from '../runtime/probe.js';
import { ALL_CAPABILITIES, RLIM_INFINITY, parseEnvEntries, specToJson, type OciCapabilities, type OciRlimit, type OciSpec } from '../runtime/spec.js';
import { resolveUser } from '../runtime/user.js';
import type { ContainerRecord } from '../storage/containers.js';
import { lookupContainer, monitorAlive, syncStates } from './containers.js';
import { helperPath } from './context.js';
import { parseEnvFile } from './create.js';
import type { Engine } from './index.js';
import { attachStreams, classifyStartError, runtimeFor, viewOf, type AttachIO } from './lifecycle.js';

export interface ExecOptions {
  command: string[];
  tty: boolean;
  /** Forward stdin (-i). */
  interactive: boolean;
  /** `-e` entries: K=V, K (from the host), K* (host prefix). */
  env: string[];
  envFile: string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
}

export interface ExecResult {
  /** The session's id (podman prints it for `exec -d`). */
  sessionId: string;
  /** The process's exit code; undefined when detached (-d or the detach keys). */
  exitCode?: number;
}

type OciProcessDoc = Omit<OciSpec['process'], 'rlimits'> & {
  rlimits?: OciRlimit[];
  consoleSize?: { height: number; width: number };
  apparmorProfile?: string;
  selinuxLabel?: string;
  oomScoreAdj?: number;
};

/**
 * JSON numbers lose precision past 2^53: config.json's unlimited rlimits (2^64-1) come back as 2^64.
 * Large values are restored as bigints (2^64 and above: RLIM_INFINITY; else clamped to 2^63-1, the
 * largest `--ulimit` accepts) and written exactly by specToJson.
 */
function exactRlimits(list: OciRlimit[] | undefined): OciRlimit[] {
  const fix = (v: number | bigint): number | bigint => {
    if (typeof v === 'bigint' || Number.isSafeInteger(v)) return v;
    if (v >= 2 ** 64) return RLIM_INFINITY;
    return BigInt(Math.min(v, 2 ** 63)) >= 2n ** 63n ? 2n ** 63n - 1n : BigInt(v);
  };
  return (list ?? []).map((r) => ({ type: r.type, soft: fix(r.soft), hard: fix(r.hard) }));
}

/** The running container, or podman's error (a missing command is reported first, as podman does). */
async function runningContainer(engine: Engine, input: string, o: ExecOptions): Promise<ContainerRecord> {
  const cs = engine.containers();
  await syncStates(cs);
  const rec = lookupContainer(cs, input);
  if (o.command.length === 0) {
    throw new TspodError('invalid-argument', 'must provide a non-empty command to start an exec session: invalid argument');
  }
  if (rec.state.status !== 'running' || !monitorAlive(rec)) {
    throw new TspodError('invalid-argument', 'can only create exec sessions on running containers: container state improper');
  }
  return rec;
}

/** The exec process: the container's process from its bundle, with the session's options applied. */
export function execProcess(engine: Engine, rec: ContainerRecord, o: ExecOptions, size?: { rows?: number; columns?: number }): OciProcessDoc {
  if (o.command.length === 0) {
    throw new TspodError('invalid-argument', 'must provide a non-empty command to start an exec session: invalid argument');
  }
  const cs = engine.containers();
  let spec: OciSpec;
  try {
    spec = JSON.parse(readFileSync(join(cs.runDir(rec.id), 'config.json'), 'utf8')) as OciSpec;
  } catch (e) {
    throw new TspodError('runtime', `reading the bundle of container ${rec.name}: ${(e as Error).message}`);
  }
  const base = spec.process as OciProcessDoc;
  const env = new Map<string, string>();
  for (const e of base.env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  const hostEnv = engine.ctx.env;
  const fromFiles = o.envFile.flatMap(parseEnvFile);
  const added = [...parseEnvEntries(fromFiles, hostEnv, '--env-file'), ...parseEnvEntries(o.env, hostEnv, '--env')];
  for (const [k, v] of added) env.set(k, v);
  if (o.tty && !env.has('TERM')) env.set('TERM', 'xterm');

  let user = base.user;
  if (o.user !== undefined && o.user !== '') {
    const u = resolveUser(viewOf(join(cs.dir(rec.id), 'merged')), { user: o.user, groupAdd: rec.config.groupAdd, primaryAsSupplementary: false });
    user = { uid: u.uid, gid: u.gid, ...(base.user.umask !== undefined ? { umask: base.user.umask } : {}), additionalGids: u.additionalGids };
    // HOME follows the exec user unless someone set it explicitly (podman does the same).
    const explicit = (e: string): boolean => e === 'HOME' || e.startsWith('HOME=');
    if (!rec.config.env.some(explicit) && !added.some(([k]) => k === 'HOME')) env.set('HOME', u.home);
  }
  const cwd = o.workdir !== undefined && o.workdir !== '' ? normalizeContainerPath(o.workdir, 'working directory') : base.cwd;

  let capabilities: OciCapabilities = base.capabilities;
  if (o.privileged) {
    const all = [...ALL_CAPABILITIES].sort();
    capabilities = { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] };
  }
  const proc: OciProcessDoc = {
    terminal: o.tty,
    user,
    args: o.command,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    cwd,
    capabilities,
    rlimits: exactRlimits(base.rlimits),
    noNewPrivileges: base.noNewPrivileges,
  };
  if (o.tty && size?.rows && size.columns) proc.consoleSize = { height: size.rows, width: size.columns };
  if (base.apparmorProfile) proc.apparmorProfile = base.apparmorProfile;
  if (base.selinuxLabel) proc.selinuxLabel = base.selinuxLabel;
  if (base.oomScoreAdj !== undefined) proc.oomScoreAdj = base.oomScoreAdj;
  return proc;
}

/** A fresh session directory: short, because unix socket paths are limited to 107 bytes. */
function sessionDir(engine: Engine, rec: ContainerRecord): { id: string; dir: string } {
  const parent = join(engine.ctx.runRoot, 's');
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  for (;;) {
    const id = randomBytes(32).toString('hex');
    const dir = join(parent, `${rec.id.slice(0, 12)}-e${id.slice(0, 4)}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return { id, dir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

function readExit(dir: string, cid: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, cid), 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a process in a running container. With io, attaches (before the process starts, so no
 * output is lost) and resolves once it exits; without, returns as soon as it runs.
 */
export async function execContainer(engine: Engine, input: string, o: ExecOptions, io?: AttachIO): Promise<ExecResult> {
  const rec = await runningContainer(engine, input, o);
  const proc = execProcess(engine, rec, o, io?.stdout);
  const rt = runtimeFor(engine, rec);
  const session = sessionDir(engine, rec);
  const exitDir = join(session.dir, 'exit');
  const processSpec = join(session.dir, 'process.json');
  let mon: StartedMonitor | undefined;
  let attached: Awaited<ReturnType<typeof attachStreams>> | undefined;
  const removeSession = (): void => rmSync(session.dir, { recursive: true, force: true });
  try {
    mkdirSync(exitDir, { mode: 0o700 });
    writeFileSync(processSpec, specToJson(proc as unknown as OciSpec), { mode: 0o600 });
    // The monitor removes the session directory once the process has exited (a detached session
    // has nobody else to do it). Nothing else runs after an exec: the container's own monitor owns it.
    const rm = findExecutable('rm', engine.ctx.env) ?? '/bin/rm';
    mon = await spawnMonitor({
      monitorPath: helperPath(engine.ctx, 'tspod-monitor'),
      cid: rec.id,
      bundle: engine.containers().runDir(rec.id),
      runtime: rt.path,
      runtimeArgs: ['--root', rt.root],
      logDriver: 'none',
      exitDir,
      socketDir: session.dir,
      terminal: o.tty,
      stdin: o.interactive && io !== undefined,
      exitCommand: rm,
      exitCommandArgs: ['-rf', '--', session.dir],
      pidfile: join(session.dir, 'monitor.pid'),
      env: engine.ctx.env,
      exec: { processSpec, attach: io !== undefined },
    });
    if (io) attached = await attachStreams(session.dir, io, o.tty);
    mon.startPipe.end('s');
    const ev = await mon.events.next();
    if (!ev || ev.event !== 'started') {
      const raw = ev && ev.event === 'error' ? ev.message : 'the exec session monitor exited before the process started';
      const err = classifyStartError(raw);
      const name = rt.path.split('/').pop() ?? 'runtime';
      throw new TspodError(err.code, err.message.startsWith(`${name}`) ? err.message : `${name}: ${err.message}`, { exitCode: err.exitCode });
    }
  } catch (e) {
    attached?.close();
    mon?.events.close();
    removeSession();
    throw e;
  }
  if (!attached) {
    mon.events.close();
    return { sessionId: session.id };
  }
  const detached = await attached.done;
  if (detached) {
    mon.events.close();
    return { sessionId: session.id };
  }
  let code: number | undefined;
  let timer: NodeJS.Timeout | number | undefined;
  const ev = await Promise.race([mon.events.next(), new Promise<undefined>((r) => (timer = setTimeout(r, 15_000)))]);
  clearTimeout(timer as NodeJS.Timeout);
  if (ev && ev.event === 'exited') code = ev.exitCode;
  mon.events.close();
  code ??= readExit(exitDir, rec.id);
  removeSession();
  if (code === undefined) throw new TspodError('runtime', `the exec session in container ${rec.name} ended without an exit code`);
  return { sessionId: session.id, exitCode: code };
}
