// The OCI runtime driver: the verbs tspod calls directly (start, kill, delete, state, pause).
// crun and runc take the same arguments for these. `create` is the monitor's job.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { removeTree } from '../util/remove.js';

export interface RuntimeRef {
  path: string;
  /** Where the runtime keeps its state (--root). */
  root: string;
}

export function runtimeArgs(rt: RuntimeRef): string[] {
  return ['--root', rt.root];
}

function call(rt: RuntimeRef, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(rt.path, [...runtimeArgs(rt), ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr).trim() });
    });
  });
}

/**
 * The message users need from a runtime's stderr: runc logs logrus lines (`time=... level=error
 * msg="..."`) or JSON; warnings are dropped, error messages kept.
 */
export function runtimeMessage(stderr: string): string {
  const msgs: string[] = [];
  for (const line of stderr.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    try {
      const j = JSON.parse(l) as { msg?: string; level?: string };
      if ((j.level === 'error' || j.level === 'fatal') && j.msg) msgs.push(j.msg);
      continue;
    } catch {
      /* not JSON */
    }
    const level = /\blevel=(\w+)/.exec(l)?.[1];
    if (level === undefined) {
      msgs.push(l);
      continue;
    }
    if (level !== 'error' && level !== 'fatal') continue;
    const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(l);
    msgs.push(m ? m[1]!.replace(/\\(.)/g, '$1') : l);
  }
  return msgs.join('; ') || stderr.trim();
}

export async function runtimeStart(rt: RuntimeRef, id: string): Promise<void> {
  const r = await call(rt, ['start', id]);
  if (r.code !== 0) throw new TspodError('runtime', `starting container ${id}: ${runtimeMessage(r.stderr)}`);
}

export async function runtimeKill(rt: RuntimeRef, id: string, signal: string, all = false): Promise<void> {
  const r = await call(rt, ['kill', ...(all ? ['--all'] : []), id, signal]);
  if (r.code !== 0 && !/not running|does not exist|process already finished/i.test(r.stderr)) {
    throw new TspodError('runtime', `sending signal ${signal} to container ${id.slice(0, 12)}: ${runtimeMessage(r.stderr)}`);
  }
}

export async function runtimeDelete(rt: RuntimeRef, id: string): Promise<void> {
  const r = await call(rt, ['delete', '--force', id]);
  if (r.code !== 0 && !/does not exist|not exist/i.test(r.stderr)) {
    throw new TspodError('runtime', `removing container ${id.slice(0, 12)} from the runtime: ${runtimeMessage(r.stderr)}`);
  }
}

/**
 * Forgets a container whose process has exited. `runc delete` of a stopped container only removes
 * cgroups, runs poststop hooks and drops its state directory; when there are no cgroups (rootless
 * without delegation) and no hooks, removing the directory is the same thing without starting a
 * Go program (~20 ms). Anything else goes through the runtime.
 */
export async function runtimeForget(rt: RuntimeRef, id: string): Promise<void> {
  const dir = join(rt.root, id);
  let state: { init_process_pid?: number; cgroup_paths?: Record<string, string>; config?: { hooks?: { poststop?: unknown[] } } };
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir)) return;
    return runtimeDelete(rt, id);
  }
  const pid = state.init_process_pid ?? 0;
  const alive = pid > 0 && existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`));
  const cgroups = Object.values(state.cgroup_paths ?? {}).some((p) => existsSync(p));
  if (alive || cgroups || state.config?.hooks?.poststop?.length) return runtimeDelete(rt, id);
  removeTree(dir);
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

export async function runtimePause(rt: RuntimeRef, id: string, resume: boolean): Promise<void> {
  const r = await call(rt, [resume ? 'resume' : 'pause', id]);
  if (r.code !== 0) {
    const msg = runtimeMessage(r.stderr);
    throw new TspodError('unsupported', `${resume ? 'unpausing' : 'pausing'} container ${id.slice(0, 12)}: ${msg}`, {
      hint: /cgroup|freezer|permission/i.test(msg) ? 'Rootless pause needs cgroups v2 with delegation; this host does not provide it' : undefined,
    });
  }
}

export async function runtimeState(rt: RuntimeRef, id: string): Promise<{ status: string; pid: number } | undefined> {
  const r = await call(rt, ['state', id], 10_000);
  if (r.code !== 0) return undefined;
  try {
    const j = JSON.parse(r.stdout) as { status: string; pid: number };
    return { status: j.status, pid: j.pid };
  } catch {
    return undefined;
  }
}
