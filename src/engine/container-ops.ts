// pause, unpause, stats and container prune.
import { TspodError } from '../errors.js';
import { runtimePause } from '../runtime/oci.js';
import { cgroupMode } from '../runtime/probe.js';
import type { ContainerRecord } from '../storage/containers.js';
import { lookupContainer, syncStates } from './containers.js';
import { isRunning } from './fs.js';
import { removeContainer, runtimeFor } from './lifecycle.js';
import type { Engine } from './index.js';

/** Rootless pause needs the freezer, which only a delegated cgroup v2 tree gives an unprivileged user. */
function checkFreezer(engine: Engine, verb: 'pause' | 'unpause'): void {
  if (engine.ctx.rootless && cgroupMode() !== 'v2') {
    throw new TspodError('unsupported', `${verb} is not supported for rootless containers on this host: it needs cgroups v2 with the freezer delegated`);
  }
}

export async function pauseContainer(engine: Engine, input: string): Promise<string> {
  const cs = engine.containers();
  await syncStates(cs);
  const rec = lookupContainer(cs, input);
  if (rec.state.status !== 'running' || !isRunning(rec)) {
    throw new TspodError('invalid-argument', `"${rec.state.status}" is not running, can't pause: container state improper`);
  }
  checkFreezer(engine, 'pause');
  await runtimePause(runtimeFor(engine, rec), rec.id, false);
  await cs.modify(rec.id, (c) => (c.state.status = 'paused'));
  return rec.id;
}

export async function unpauseContainer(engine: Engine, input: string): Promise<string> {
  const cs = engine.containers();
  await syncStates(cs);
  const rec = lookupContainer(cs, input);
  checkFreezer(engine, 'unpause');
  if (rec.state.status !== 'paused') {
    throw new TspodError('invalid-argument', `"${rec.state.status}" is not paused, can't unpause: container state improper`);
  }
  await runtimePause(runtimeFor(engine, rec), rec.id, true);
  await cs.modify(rec.id, (c) => (c.state.status = 'running'));
  return rec.id;
}

/** The containers `pause --all` / `unpause --all` act on. */
export async function containersInState(engine: Engine, status: 'running' | 'paused'): Promise<string[]> {
  return (await syncStates(engine.containers())).filter((c) => c.state.status === status).map((c) => c.id);
}

/** stats reads the container's cgroup: rootless, that needs cgroups v2. */
export function checkStats(engine: Engine): void {
  if (engine.ctx.rootless && cgroupMode() !== 'v2') {
    throw new TspodError('unsupported', 'stats is not supported in rootless mode without cgroups v2');
  }
  throw new TspodError('unsupported', 'stats is not implemented yet on this host');
}

// ---- prune ---------------------------------------------------------------------------------

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** until=: a Go duration (10m, 1h30m) before now, unix seconds, or an RFC 3339 time. */
export function parseUntil(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|\u00b5s|ms|s|m|h))+$/.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g)) ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new TspodError('invalid-argument', `invalid until filter value "${v}"`);
  return t;
}

type Filter = (c: ContainerRecord) => boolean;

function parseFilters(filters: string[]): Filter[] {
  return filters.map((f) => {
    const i = f.indexOf('=');
    const key = i < 0 ? f : f.slice(0, i);
    const value = i < 0 ? '' : f.slice(i + 1);
    if (key === 'until') {
      const t = parseUntil(value);
      return (c) => Date.parse(c.created) < t;
    }
    if (key === 'label' || key === 'label!') {
      const j = value.indexOf('=');
      const lk = j < 0 ? value : value.slice(0, j);
      const lv = j < 0 ? undefined : value.slice(j + 1);
      const has = (c: ContainerRecord): boolean => lk in c.config.labels && (lv === undefined || c.config.labels[lk] === lv);
      return key === 'label' ? has : (c) => !has(c);
    }
    throw new TspodError('invalid-argument', `${key} is an invalid filter`);
  });
}

export interface PruneReport {
  removed: string[];
  errors: Error[];
}

/** `container prune`: removes every container that is not running (and matches the filters). */
export async function pruneContainers(engine: Engine, filters: string[]): Promise<PruneReport> {
  const fs = parseFilters(filters);
  const report: PruneReport = { removed: [], errors: [] };
  for (const c of await syncStates(engine.containers())) {
    if (isRunning(c) || !fs.every((f) => f(c))) continue;
    try {
      report.removed.push(await removeContainer(engine, c.id, { force: false, volumes: false }));
    } catch (e) {
      report.errors.push(e as Error);
    }
  }
  return report;
}
