// Running containers: prepare the root filesystem and bundle, start the monitor, attach, start,
// wait, stop, kill, clean up after exit (unmount, runtime delete, --rm, restart policy).
import { chmodSync, closeSync, existsSync, constants as fsc, lchownSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { generateSpec, imageVolumeDestinations, specToJson, type RootfsView } from '../runtime/spec.js';
import { resolveInRoot, type RootfsStat } from '../runtime/confine.js';
import { VolumeStore } from '../storage/volumes.js';
import { spawnMonitor, connectAttach, demux, CTL_RESIZE } from '../runtime/monitor.js';
import { runtimeDelete, runtimeForget, runtimeKill, runtimeMessage, runtimeStart, runtimeState, type RuntimeRef } from '../runtime/oci.js';
import { chooseRuntime, cgroupMode, findExecutable } from '../runtime/probe.js';
import { unmountRootfs } from '../storage/mount.js';
import { ContainerStore, type ContainerRecord } from '../storage/containers.js';
import { containerToNamespaceIds, rootlessIds, writeKeepIdFiles } from './keepid.js';
import { exitFile, lookupContainer, readExitCode, syncStates, monitorAlive } from './containers.js';
import { helperPath } from './context.js';
import { readRegularFileNoFollow } from '../util/safe-read.js';
import { applyOverlayVolumes, chownVolumes, releaseOverlayVolumes } from '../storage/volume-options.js';
import { trace } from '../util/trace.js';
import { mountContainerRootfs, userMountCount } from './fs.js';
import { portHelperError } from '../network/portfwd.js';
import { etcFilesFor, planNetwork, publishPorts, releaseContainerNetwork, type NetworkPlan } from './network.js';
import type { Engine } from './index.js';
import type { ImageConfigDoc } from './images.js';
import type { Readable, Writable } from 'node:stream';
import { removeTree } from '../util/remove.js';

export interface AttachIO {
  stdin?: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { columns?: number; rows?: number; isTTY?: boolean };
  stderr: Writable;
  /** Forward stdin to the container. */
  interactive: boolean;
  detachKeys?: string;
  /** Forward the signals tspod receives to the container (--sig-proxy, default true). */
  sigProxy?: boolean;
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** --sig-proxy: signals sent to the CLI go to the container; returns the undo. */
function proxySignals(rt: RuntimeRef, id: string): () => void {
  const handlers = PROXIED.map((sig) => {
    const h = (): void => void runtimeKill(rt, id, sig).catch(() => {});
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

export function runtimeFor(engine: Engine, rec?: ContainerRecord): RuntimeRef {
  const choice = chooseRuntime(rec?.config.runtime ?? engine.ctx.runtime, engine.ctx.env);
  return { path: choice.path, root: join(engine.ctx.runRoot, 'runtime') };
}

/**
 * A RootfsView over a mounted root filesystem. Paths are resolved component by component by the
 * callers (confine.ts); with a running container (exec, top) a swap between resolution and open is
 * possible, but the last component is opened O_NOFOLLOW and only regular files are read.
 */
export function viewOf(root: string, toNamespaceIds: (o: { uid: number; gid: number }) => { uid: number; gid: number } = (o) => o): RootfsView {
  const host = (p: string): string => join(root, p);
  return {
    lstat(p: string): RootfsStat | null {
      try {
        const st = lstatSync(host(p));
        const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
        return { type, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid } as RootfsStat;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
        throw e;
      }
    },
    readlink: (p: string) => readlinkSync(host(p)),
    readFile: (p: string, max: number): Buffer | null => readRegularFileNoFollow(host(p), p, max),
    mkdir(p: string, mode: number, owner?: { uid: number; gid: number }): void {
      mkdirSync(host(p), { mode });
      if (owner) {
        try {
          const o = toNamespaceIds(owner);
          lchownSync(host(p), o.uid, o.gid);
        } catch {
          /* unmapped owner: keep root */
        }
      }
    },
  };
}

/** A view in which these container files read as the given texts (generated, not in the root). */
function withFiles(view: RootfsView, files: Record<string, string | undefined>): RootfsView {
  const text = (p: string): string | undefined => files[p];
  return {
    ...view,
    lstat: (p) => {
      const t = text(p);
      return t === undefined ? view.lstat(p) : ({ type: 'file', size: Buffer.byteLength(t), mode: 0o100644, uid: 0, gid: 0 } as RootfsStat);
    },
    readFile: (p, max) => {
      const t = text(p);
      return t === undefined ? view.readFile(p, max) : Buffer.from(t);
    },
  };
}

/** Mounts the root filesystem and writes the OCI bundle. Returns the bundle directory. */
export async function prepareBundle(engine: Engine, rec: ContainerRecord, net?: NetworkPlan): Promise<string> {
  const store = engine.store();
  const cs = engine.containers();
  net ??= await planNetwork(engine.ctx, cs, rec, socketDir(cs, rec.id));
  const merged = await mountContainerRootfs(engine, rec);
  trace('bundle: mounted');
  const imageDoc = JSON.parse(store.imageConfig(rec.imageId).toString('utf8')) as ImageConfigDoc;
  const imageConfig = imageDoc.config ?? {};
  const cfg = rec.config;
  const hostname = cfg.hostname ?? (cfg.network === 'host' ? hostHostname() : rec.id.slice(0, 12));
  const binds = await applyOverlayVolumes(
    cfg.mounts
      .filter((m) => m.type === 'bind' || m.type === 'volume')
      // copy/nocopy are ours (volume copy-up below), not mount options
      .map((m) => ({ source: m.source, destination: m.destination, options: m.options.filter((o) => o !== 'copy' && o !== 'nocopy') })),
    cs.dir(rec.id),
    engine.ctx.rootless,
  );
  // Image VOLUMEs get anonymous volumes, created once per container and kept with it.
  const imageVolumeSources: Record<string, string> = {};
  for (const dst of imageVolumeDestinations(imageConfig as never)) {
    let m = cfg.mounts.find((x) => x.destination === dst);
    if (!m) {
      const v = await engine.ensureVolume();
      m = { type: 'volume', source: v.mountpoint, destination: dst, options: [], name: v.name };
      const added = m;
      await cs.modify(rec.id, (c) => c.config.mounts.push(added));
      cfg.mounts.push(added);
    }
    imageVolumeSources[dst] = m.source;
  }
  const toNamespaceIds = containerToNamespaceIds(engine.ctx, cfg.userns);
  let view = viewOf(merged, toNamespaceIds);
  const keepId = writeKeepIdFiles(engine.ctx, cfg.userns, view, join(cs.dir(rec.id), 'userdata'), {
    mountDestinations: cfg.mounts.map((m) => m.destination),
    workdir: cfg.workdir || (imageConfig as { WorkingDir?: string }).WorkingDir || '/',
  });
  view = withFiles(view, { '/etc/passwd': keepId.passwdText, '/etc/group': keepId.groupText });
  const etcFiles = { ...etcFilesFor(net, cs, rec, hostname, engine.ctx), passwd: keepId.passwd, group: keepId.group };
  const spec = generateSpec({
    id: rec.id,
    name: rec.name,
    rootfs: merged,
    view,
    image: imageConfig as never,
    imageArch: imageDoc.architecture,
    command: cfg.command,
    entrypoint: cfg.entrypoint === undefined ? undefined : cfg.entrypoint.length === 1 ? cfg.entrypoint[0] : cfg.entrypoint,
    env: cfg.env,
    hostEnv: engine.ctx.env,
    workdir: cfg.workdir,
    user: cfg.user,
    groupAdd: cfg.groupAdd,
    hostname,
    hostHostname: hostHostname(),
    tty: cfg.tty,
    interactive: cfg.interactive,
    readOnly: cfg.readOnly,
    tmpfs: cfg.mounts.filter((m) => m.type === 'tmpfs').map((m) => (m.options.length ? `${m.destination}:${m.options.join(',')}` : m.destination)),
    binds,
    capAdd: cfg.capAdd,
    capDrop: cfg.capDrop,
    privileged: cfg.privileged,
    securityOpt: cfg.securityOpt,
    ulimits: cfg.ulimits,
    shmSize: cfg.shmSize !== undefined ? String(cfg.shmSize) : undefined,
    devices: cfg.devices,
    init: cfg.init,
    initPath: cfg.init ? (findExecutable('catatonit', engine.ctx.env) ?? '/usr/libexec/podman/catatonit') : undefined,
    rootless: engine.ctx.rootless,
    userns: cfg.userns,
    rootlessIds: rootlessIds(engine.ctx),
    network: net.spec,
    netnsPath: net.createNetns ? net.helper?.netnsPath : undefined,
    cgroupsAvailable: !engine.ctx.rootless,
    cgroupsMode: cgroupMode(),
    annotations: { ...cfg.annotations, 'io.container.manager': 'tspod' },
    stopSignal: cfg.stopSignal,
    etcFiles,
    imageVolumeSources,
    hostRlimits: hostRlimits(),
    clampRlimitsToHost: true,
  } as never);
  const bundle = cs.runDir(rec.id);
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  trace('bundle: spec generated');
  writeFileSync(join(bundle, 'config.json'), specToJson(spec));
  const user = (spec as { process?: { user?: { uid: number; gid: number } } }).process?.user;
  const volOwner = toNamespaceIds({ uid: user?.uid ?? 0, gid: user?.gid ?? 0 });
  chownVolumes(binds, volOwner.uid, volOwner.gid);
  // podman's copy-up and fixVolumePermissions: the first container to mount a named volume copies
  // the image's content at the mount point into it (unless nocopy), and gives it to its process's
  // user, or the owner and mode of the directory the image has at the mount point.
  for (const m of cfg.mounts) {
    if (m.type !== 'volume' || !m.name) continue;
    const vol = m.name;
    await new VolumeStore(store).firstUse(vol, async (dir) => {
      if (!m.options.includes('nocopy') && !volumeSaysNoCopy(store, vol)) {
        const { copyUpToVolume } = await import('./fs-cp.js');
        await copyUpToVolume(engine, rec, merged, m.destination, dir);
      }
      lchownSync(dir, volOwner.uid, volOwner.gid);
      const st = lstatSync(join(merged, resolveInRoot(view, m.destination)), { throwIfNoEntry: false });
      if (st?.isDirectory()) {
        lchownSync(dir, st.uid, st.gid);
        chmodSync(dir, st.mode & 0o7777);
      }
    });
  }
  const proc = (spec as { process?: { args?: string[]; env?: string[]; cwd?: string; user?: { uid: number; gid: number } } }).process;
  // Recorded with the running state by the caller: one metadata write per start, not two.
  resolvedProcess.set(rec.id, { args: proc?.args ?? [], env: proc?.env ?? [], cwd: proc?.cwd ?? '/', user: proc?.user ? `${proc.user.uid}:${proc.user.gid}` : '0:0' });
  return bundle;
}

/** `volume create -o nocopy` (podman 4.3.1 ignores `-o copy=false`: so do we). */
function volumeSaysNoCopy(store: ReturnType<Engine['store']>, name: string): boolean {
  return Object.keys(new VolumeStore(store).get(name)?.options ?? {}).some((k) => k.toLowerCase() === 'nocopy');
}

/** The process each prepared bundle runs, until startContainer records it. */
const resolvedProcess = new Map<string, NonNullable<ContainerRecord['resolved']>>();

/** This process's RLIMIT_NOFILE and RLIMIT_NPROC (the runtime cannot raise them without CAP_SYS_RESOURCE). */
function hostRlimits(): { nofile?: { soft: number; hard: number }; nproc?: { soft: number; hard: number } } {
  const out: { nofile?: { soft: number; hard: number }; nproc?: { soft: number; hard: number } } = {};
  try {
    for (const line of readFileSync('/proc/self/limits', 'utf8').split('\n')) {
      const m = /^Max (open files|processes)\s+(\S+)\s+(\S+)/.exec(line);
      if (!m) continue;
      const num = (v: string): number => (v === 'unlimited' ? 2 ** 53 - 1 : Number(v));
      const lim = { soft: num(m[2]!), hard: num(m[3]!) };
      if (m[1] === 'open files') out.nofile = lim;
      else out.nproc = lim;
    }
  } catch {
    /* no /proc */
  }
  return out;
}

function exitCommand(engine: Engine, rec: ContainerRecord): { cmd: string; args: string[] } {
  const launcher = engine.ctx.env._TSPOD_LAUNCHER ?? helperPath(engine.ctx, 'tspod');
  const args = ['--root', engine.ctx.graphRoot, '--runroot', engine.ctx.runRoot];
  if (engine.ctx.storageDriver) args.push('--storage-driver', engine.ctx.storageDriver);
  args.push('container', 'cleanup');
  if (rec.config.autoRemove) args.push('--rm');
  args.push(rec.id);
  return { cmd: launcher, args };
}

/** How to reach a running container's monitor. */
export function socketDir(cs: ContainerStore, id: string): string {
  // Short: unix socket paths are limited to 107 bytes.
  return join(cs.store.runRoot, 's', id.slice(0, 16));
}

/**
 * Starts a created or exited container. With `io`, attaches before starting and returns the exit
 * code when the container exits (undefined when the user detached).
 */
export async function startContainer(engine: Engine, input: string, io?: AttachIO): Promise<number | undefined> {
  const cs = engine.containers();
  const first = lookupContainer(cs, input);
  // Held until the container is recorded running: the previous run's cleanup (the monitor's exit
  // command) takes the same lock, so it can never unmount or forget what this start prepares.
  const lock = await cs.store.lockContainer(first.id);
  let started: Awaited<ReturnType<typeof startLocked>>;
  try {
    started = await startLocked(engine, first.id, io);
  } finally {
    lock.release();
  }
  if (started === 'attach') return attachContainer(engine, first.id, io!);
  return started ? finishAttached(engine, started) : undefined;
}

interface Started {
  rec: ContainerRecord;
  attached: Awaited<ReturnType<typeof attachStreams>>;
  mon: Awaited<ReturnType<typeof spawnMonitor>>;
  rt: RuntimeRef;
  sigProxy: boolean;
}

async function startLocked(engine: Engine, id: string, io?: AttachIO): Promise<Started | 'attach' | undefined> {
  const cs = engine.containers();
  let rec = lookupContainer(cs, id);
  if (rec.state.status === 'running' && monitorAlive(rec) && readExitCode(cs, rec.id) === undefined) {
    return io ? 'attach' : undefined;
  }
  const rt = runtimeFor(engine, rec);
  // A previous run's leftovers: runtime state (only if there is any: a fresh container has none,
  // and a runc call costs a process) and the exit file.
  if (existsSync(join(rt.root, rec.id))) await runtimeForget(rt, rec.id).catch(() => {});
  rmSync(exitFile(cs, rec.id), { force: true });
  trace('start: begin');
  const sock = socketDir(cs, rec.id);
  // Before anything is mounted or spawned: a taken host port fails here and leaves nothing behind.
  const net = await planNetwork(engine.ctx, cs, rec, sock);
  trace('start: network planned');
  const bundle = await prepareBundle(engine, rec, net);
  trace('start: bundle ready');
  rec = lookupContainer(cs, rec.id);
  await releaseContainerNetwork(sock, rec.state.netHelperPid); // a previous run's, if its monitor was killed
  removeTree(sock);
  mkdirSync(sock, { recursive: true, mode: 0o700 });
  mkdirSync(join(engine.ctx.runRoot, 'exits'), { recursive: true, mode: 0o700 });
  const ex = exitCommand(engine, rec);
  // With a network helper, the network must be up (and ports published) before the start: the
  // monitor does it before the runtime (createNetns), or between create and start.
  const oneStep = !net.helper || net.createNetns === true;
  const mon = await spawnMonitor({
    monitorPath: helperPath(engine.ctx, 'tspod-monitor'),
    cid: rec.id,
    bundle,
    runtime: rt.path,
    runtimeArgs: ['--root', rt.root],
    logDriver: rec.config.logDriver,
    logPath: rec.config.logDriver === 'k8s-file' ? logPath(cs, rec.id) : undefined,
    logSizeMax: rec.config.logMaxSize,
    exitDir: join(engine.ctx.runRoot, 'exits'),
    socketDir: sock,
    terminal: rec.config.tty,
    stdin: rec.config.interactive,
    exitCommand: ex.cmd,
    exitCommandArgs: ex.args,
    pidfile: join(sock, 'monitor.pid'),
    env: engine.ctx.env,
    // Nothing to set up between create and start (no network helper): one runtime call does both.
    start: oneStep,
    netHelper: net.helper && { path: net.helper.path, args: net.helper.args, netnsPath: net.helper.netnsPath, portHelper: net.helper.portHelper, holdsPorts: net.helper.holdsPorts, create: net.createNetns },
  });
  trace('start: monitor ready');
  let attached: Awaited<ReturnType<typeof attachStreams>> | undefined;
  let helperPid = 0;
  try {
    if (io) attached = await attachStreams(sock, io, rec.config.tty);
    mon.startPipe.end('s');
    let ev = await mon.events.next();
    if (ev?.event === 'network') {
      helperPid = ev.pid;
      ev = await mon.events.next();
    }
    trace(`start: event ${ev?.event}`);
    if (!ev || ev.event === 'error' || ev.event === 'exited') {
      const msg = ev && ev.event === 'error' ? ev.message : 'the container monitor exited before the container was created';
      const portErr = net.helper?.portHelper && ev?.event === 'error' ? portHelperError(net.helper.portHelper.path, ev.message) : undefined;
      if (portErr) throw portErr;
      throw net.helper && ev?.event === 'error' && ev.message.startsWith(net.helper.path) ? new TspodError('network', `setting up the network: ${msg}`) : classifyStartError(msg);
    }
    await publishPorts(net);
    if (!oneStep) {
      await runtimeStart(rt, rec.id).catch((e: Error) => {
        throw classifyStartError(e.message.replace(/^starting container \S+: /, ''));
      });
    }
    await cs.modify(rec.id, (c) => {
      c.state.status = 'running';
      c.state.pid = ev.event === 'created' || ev.event === 'started' ? ev.pid : 0;
      c.state.monitorPid = mon.monitorPid;
      c.state.netHelperPid = helperPid || undefined;
      c.state.startedAt = new Date().toISOString();
      c.state.finishedAt = undefined;
      c.state.exitCode = 0;
      c.state.stoppedByUser = false;
      c.resolved = resolvedProcess.get(c.id) ?? c.resolved;
    });
  } catch (e) {
    attached?.close();
    mon.events.close();
    await runtimeDelete(rt, rec.id).catch(() => {});
    await releaseContainerNetwork(sock, helperPid).catch(() => {});
    await cs.modify(rec.id, (c) => {
      c.state.status = 'exited';
      c.state.exitCode = e instanceof TspodError && (e.exitCode === 126 || e.exitCode === 127) ? e.exitCode : 125;
      c.state.error = (e as Error).message;
      c.state.finishedAt = new Date().toISOString();
    });
    await cleanupContainer(engine, rec.id, { rm: false, fromExit: false }).catch(() => {});
    throw e;
  }
  if (!attached) {
    mon.events.close();
    return undefined;
  }
  return { rec, attached, mon, rt, sigProxy: io?.sigProxy !== false };
}

/** Waits for an attached container to exit (or the user to detach); cleans up in-process. */
async function finishAttached(engine: Engine, { rec, attached, mon, rt, sigProxy }: Started): Promise<number | undefined> {
  const unproxy = sigProxy ? proxySignals(rt, rec.id) : () => {};
  const detached = await attached.done.finally(unproxy);
  if (detached) {
    mon.events.close();
    return undefined;
  }
  // The container exited: its code comes in the event, or in the exit file.
  let code: number | undefined;
  const ev = await Promise.race([mon.events.next(), new Promise<undefined>((r) => setTimeout(r, 15_000))]);
  if (ev && ev.event === 'exited') {
    trace('start: exited');
    code = ev.exitCode;
    // We are here anyway: clean up in this process rather than have the monitor start another.
    await mon.events.ackCleanup();
    mon.events.close();
    await cleanupContainer(engine, rec.id, { rm: rec.config.autoRemove, fromExit: true });
    trace('start: cleaned up');
    return code;
  }
  mon.events.close();
  code ??= await waitExitCode(engine, rec.id);
  return code;
}

/** runc's "executable file not found" and "permission denied" map to 127 and 126, as in podman. */
export function classifyStartError(raw: string): TspodError {
  const msg = runtimeMessage(raw);
  if (/executable file not found|no such file or directory/i.test(msg) && /exec/i.test(msg)) {
    return new TspodError('command-not-found', `${msg.replace(/\s+$/, '')}: OCI runtime attempted to invoke a command that was not found`);
  }
  if (/permission denied/i.test(msg) && /exec/i.test(msg)) {
    return new TspodError('cannot-invoke', `${msg.replace(/\s+$/, '')}: OCI permission denied`);
  }
  return new TspodError('runtime', msg.trim() || 'the OCI runtime failed to create the container');
}

export function logPath(cs: ContainerStore, id: string): string {
  return join(cs.dir(id), 'userdata', 'ctr.log');
}

function parseDetachKeys(spec: string | undefined): number[] {
  const s = spec ?? 'ctrl-p,ctrl-q';
  if (s === '') return [];
  return s.split(',').map((k) => {
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(k);
    if (m) return m[1]!.charCodeAt(0) & 0x1f;
    if (k.length === 1) return k.charCodeAt(0);
    throw new TspodError('invalid-argument', `invalid detach keys: ${s}`, { hint: 'Use a sequence like ctrl-p,ctrl-q' });
  });
}

/** Connects to the monitor and wires the streams. done resolves true when the user detached. */
export async function attachStreams(sock: string, io: AttachIO, tty: boolean): Promise<{ done: Promise<boolean>; close: () => void }> {
  const s = await connectAttach(sock);
  const keys = parseDetachKeys(io.detachKeys);
  let detached = false;
  let matched = 0;
  const stdin = io.interactive ? io.stdin : undefined;
  const raw = Boolean(tty && stdin?.isTTY && stdin.setRawMode);
  if (raw) stdin!.setRawMode!(true);
  const resize = (): void => {
    const rows = io.stdout.rows;
    const cols = io.stdout.columns;
    if (!rows || !cols) return;
    try {
      const fd = openSync(join(sock, 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK);
      try {
        writeSync(fd, `${CTL_RESIZE} ${rows} ${cols}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      /* the monitor is gone */
    }
  };
  if (tty) {
    resize();
    process.on('SIGWINCH', resize);
  }
  // A prefix of the detach keys is held back until the next byte says whether it detaches (as
  // podman and docker do): ctrl-p alone must not reach the container's shell before ctrl-q.
  let held: number[] = [];
  const onData = (d: Buffer): void => {
    if (!keys.length || !tty) {
      s.write(d);
      return;
    }
    const out: number[] = [];
    for (const b of d) {
      if (b === keys[matched]) {
        matched++;
        held.push(b);
        if (matched === keys.length) {
          detached = true;
          if (out.length) s.write(Buffer.from(out));
          s.destroy();
          return;
        }
        continue;
      }
      out.push(...held);
      held = [];
      matched = 0;
      if (b === keys[0]) {
        matched = 1;
        held.push(b);
      } else out.push(b);
    }
    if (out.length) s.write(Buffer.from(out));
  };
  if (stdin) {
    stdin.on('data', onData);
    stdin.on('end', () => s.end());
    stdin.resume();
  }
  const restore = (): void => {
    if (raw) stdin!.setRawMode!(false);
    if (stdin) {
      stdin.off('data', onData);
      stdin.pause();
    }
    if (tty) process.off('SIGWINCH', resize);
  };
  const done = demux(s, io.stdout, io.stderr).then(() => {
    restore();
    return detached;
  });
  return {
    done,
    close: () => {
      restore();
      s.destroy();
    },
  };
}

export async function attachContainer(engine: Engine, input: string, io: AttachIO): Promise<number | undefined> {
  const cs = engine.containers();
  const rec = lookupContainer(cs, input);
  if (rec.state.status !== 'running') {
    throw new TspodError('invalid-argument', 'you can only attach to running containers');
  }
  const a = await attachStreams(socketDir(cs, rec.id), io, rec.config.tty);
  if (await a.done) return undefined;
  return waitExitCode(engine, rec.id);
}

/** Waits until the container has exited and returns its exit code. */
export async function waitExitCode(engine: Engine, input: string, timeoutMs = Infinity): Promise<number> {
  const cs = engine.containers();
  const rec = lookupContainer(cs, input);
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const code = readExitCode(cs, rec.id);
    if (code !== undefined) return code;
    const cur = cs.get(rec.id);
    if (!cur) throw new TspodError('no-such-container', `no container with ID ${rec.id} found: no such container`);
    if (cur.state.status !== 'running' && cur.state.status !== 'paused') return cur.state.exitCode;
    if (!monitorAlive(cur)) {
      const list = await syncStates(cs);
      const c = list.find((x) => x.id === rec.id);
      if (c && c.state.status === 'exited') return readExitCode(cs, rec.id) ?? c.state.exitCode;
    }
    if (Date.now() > deadline) throw new TspodError('runtime', `timed out waiting for container ${rec.name}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(100, delay * 2);
  }
}

export async function killContainer(engine: Engine, input: string, signal: string): Promise<ContainerRecord> {
  const cs = engine.containers();
  const rec = lookupContainer(cs, input);
  if (rec.state.status !== 'running' && rec.state.status !== 'paused') {
    throw new TspodError('invalid-argument', `can only kill running containers. ${rec.id} is in state ${rec.state.status}: container state improper`);
  }
  await cs.modify(rec.id, (c) => (c.state.stoppedByUser = true));
  await runtimeKill(runtimeFor(engine, rec), rec.id, normalizeSignal(signal));
  return rec;
}

export function normalizeSignal(sig: string): string {
  const s = sig.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new TspodError('invalid-argument', `invalid signal: ${sig}`);
    return String(n);
  }
  const known = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];
  if (!known.includes(s) && !/^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(s)) throw new TspodError('invalid-argument', `invalid signal: ${sig}`);
  return `SIG${s}`;
}

/** stop: the stop signal, then SIGKILL after the timeout; returns once it has exited. */
export async function stopContainer(engine: Engine, input: string, timeoutSec?: number): Promise<ContainerRecord> {
  const cs = engine.containers();
  const rec = lookupContainer(cs, input);
  if (rec.state.status !== 'running' && rec.state.status !== 'paused') return rec;
  await cs.modify(rec.id, (c) => (c.state.stoppedByUser = true));
  const rt = runtimeFor(engine, rec);
  const imageCfg = safeImageConfig(engine, rec);
  const sig = normalizeSignal(rec.config.stopSignal ?? (imageCfg.StopSignal as string | undefined) ?? 'SIGTERM');
  const timeout = timeoutSec ?? rec.config.stopTimeout;
  if (timeout > 0) {
    await runtimeKill(rt, rec.id, sig);
    try {
      await waitExitCode(engine, rec.id, timeout * 1000);
      await waitStopped(engine, rec.id);
      return rec;
    } catch {
      /* still running: kill it */
    }
  }
  await runtimeKill(rt, rec.id, 'SIGKILL', true).catch(() => runtimeKill(rt, rec.id, 'SIGKILL'));
  await waitExitCode(engine, rec.id, 30_000);
  await waitStopped(engine, rec.id);
  return rec;
}

/** After the exit code is known, the exit command unmounts; make the record say exited either way. */
async function waitStopped(engine: Engine, id: string): Promise<void> {
  const cs = engine.containers();
  await syncStates(cs);
  // Published ports are free when stop returns, whoever's cleanup runs later.
  const rec = cs.get(id);
  if (rec) await releaseContainerNetwork(socketDir(cs, id), rec.state.netHelperPid).catch(() => {});
}

function safeImageConfig(engine: Engine, rec: ContainerRecord): Record<string, unknown> {
  try {
    return (JSON.parse(engine.store().imageConfig(rec.imageId).toString('utf8')) as ImageConfigDoc).config ?? {};
  } catch {
    return {};
  }
}

/**
 * What happens after a container's process exits (the monitor's exit command, and rm/stop paths):
 * record the exit, unmount, drop the runtime's state, then --rm or the restart policy.
 */
export async function cleanupContainer(engine: Engine, input: string, opts: { rm: boolean; fromExit: boolean }): Promise<void> {
  const cs = engine.containers();
  const rec = cs.list().find((c) => c.id === input || c.name === input) ?? lookupContainer(cs, input);
  const lock = await cs.store.lockContainer(rec.id);
  try {
    // One metadata write per cleanup: the record is either removed (--rm) or updated once.
    const cur = cs.get(rec.id);
    if (!cur) return;
    if (cur.state.status === 'running' && readExitCode(cs, cur.id) === undefined && monitorAlive(cur)) {
      const st = await runtimeState(runtimeFor(engine, cur), cur.id);
      if (st && st.status === 'running') return; // not ours to clean: it still runs
    }
    // Its monitor stops the network helper; after a kill -9 of the monitor, we do.
    await releaseContainerNetwork(socketDir(cs, cur.id), cur.state.netHelperPid).catch(() => {});
    // A user's `tspod mount` (or a cp in progress) keeps the rootfs mounted.
    const keepMounted = userMountCount(cs, cur.id) > 0;
    if (!keepMounted) await unmountRootfs(join(cs.dir(cur.id), 'merged')).catch(() => {});
    await releaseOverlayVolumes(cs.dir(cur.id));
    trace('cleanup: unmounted');
    await runtimeForget(runtimeFor(engine, cur), cur.id).catch(() => {});
    trace('cleanup: runtime state gone');
    if ((opts.rm || cur.config.autoRemove) && !keepMounted) {
      await removeRecord(engine, cur.id);
      return;
    }
    const after = await cs.modify(cur.id, (c) => {
      if (c.state.status === 'running' || c.state.status === 'paused') {
        c.state.status = 'exited';
        c.state.exitCode = readExitCode(cs, c.id) ?? c.state.exitCode;
        c.state.finishedAt ??= new Date().toISOString();
      }
    });
    if (!after) return;
    if (opts.rm || after.config.autoRemove) {
      await removeRecord(engine, after.id);
      return;
    }
    if (opts.fromExit && shouldRestart(after)) {
      await cs.modify(after.id, (c) => (c.state.restartCount += 1));
      lock.release();
      await startContainer(engine, after.id).catch(() => {});
      return;
    }
  } finally {
    lock.release();
  }
}

function shouldRestart(c: ContainerRecord): boolean {
  const p = c.config.restartPolicy;
  if (c.state.stoppedByUser) return false;
  if (p.name === 'always' || p.name === 'unless-stopped') return true;
  if (p.name === 'on-failure') return c.state.exitCode !== 0 && (p.maxRetries === 0 || c.state.restartCount < p.maxRetries);
  return false;
}

/** Drops a container's record and directories; with `volumes`, its anonymous volumes too. */
export async function removeRecord(engine: Engine, id: string, volumes = false): Promise<void> {
  const cs = engine.containers();
  const removed = await cs.update((items) => {
    const i = items.findIndex((c) => c.id === id);
    return i >= 0 ? items.splice(i, 1)[0] : undefined;
  });
  cs.removeDirs(id);
  rmSync(exitFile(cs, id), { force: true });
  await releaseContainerNetwork(socketDir(cs, id), removed?.state.netHelperPid).catch(() => {});
  removeTree(socketDir(cs, id));
  if (removed && (volumes || removed.config.autoRemove)) {
    const names = removed.config.mounts.filter((m) => m.type === 'volume' && m.name).map((m) => m.name!);
    if (names.length) {
      const { removeAnonymousVolumes } = await import('./volumes.js');
      await removeAnonymousVolumes(engine.store(), names, (n) => engine.volumeUsers(n));
    }
  }
}

/** rm: refuses running containers unless forced; forced ones are killed first. */
export async function removeContainer(engine: Engine, input: string, opts: { force: boolean; volumes: boolean; time?: number }): Promise<string> {
  const cs = engine.containers();
  const rec = lookupContainer(cs, input);
  await syncStates(cs);
  const cur = cs.get(rec.id)!;
  if ((cur.state.status === 'running' || cur.state.status === 'paused') && monitorAlive(cur)) {
    if (!opts.force) {
      throw new TspodError(
        'invalid-argument',
        `cannot remove container ${cur.id} as it is running - running or paused containers cannot be removed without force: container state improper`,
        { exitCode: 2 },
      );
    }
    await stopContainer(engine, cur.id, opts.time ?? 0);
  }
  const lock = await cs.store.lockContainer(rec.id);
  try {
    await unmountRootfs(join(cs.dir(rec.id), 'merged')).catch(() => {});
    await runtimeForget(runtimeFor(engine, rec), rec.id).catch(() => {});
    await removeRecord(engine, rec.id, opts.volumes);
  } finally {
    lock.release();
  }
  return rec.id;
}
