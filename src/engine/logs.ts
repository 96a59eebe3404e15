// logs: reads the monitor's k8s-file log (`<RFC3339Nano> stdout|stderr F|P <text>`), joins partial
// records, applies --tail/--since/--until, and with --follow keeps reading while the container runs.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { TspodError } from '../errors.js';
import type { Engine } from './index.js';

export interface LogOptions {
  follow: boolean;
  tail?: number;
  since?: string;
  until?: string;
  timestamps: boolean;
  /** Prefix every line with the container's name (`--names`) or, with several containers, its short ID. */
  prefix: 'none' | 'id' | 'name';
  stdout: Writable;
  stderr: Writable;
}

interface Line {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
  /** A partial record nothing completed: printed without a newline, as podman does. */
  partial?: boolean;
}

/** Partial (P) records waiting for the F record of the same stream. */
type Pending = Record<'stdout' | 'stderr', { text: string; time: string } | undefined>;

/** The log's RFC 3339 time as Go's RFC3339Nano prints it in UTC: trailing zeros trimmed, `Z`. */
export function goTime(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return t;
  let base = m[1]!;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (m[3] !== 'Z' && m[3] !== '+00:00' && m[3] !== '-00:00') {
    const ms = Date.parse(`${base}${m[3]}`);
    base = new Date(ms).toISOString().slice(0, 19);
  }
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** RFC 3339, unix seconds (with fraction), or a Go duration ("10m", "1h30m") before now. */
export function parseTime(s: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const dur = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
  if (dur && s !== '') return now - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new TspodError('invalid-argument', `invalid time "${s}"`, { hint: 'Use RFC 3339 (2024-01-02T15:04:05Z), unix seconds, or a duration like 10m' });
  return t;
}

/** Parses complete records; returns the lines and how many bytes were consumed. Partial records are
 * joined per stream: a P record of stdout is completed by the next F record of stdout only. */
function parse(buf: string, pending: Pending): { lines: Line[]; used: number } {
  const lines: Line[] = [];
  let used = 0;
  for (;;) {
    const nl = buf.indexOf('\n', used);
    if (nl === -1) break;
    const rec = buf.slice(used, nl);
    used = nl + 1;
    const a = rec.indexOf(' ');
    const b = rec.indexOf(' ', a + 1);
    const c = rec.indexOf(' ', b + 1);
    if (a < 0 || b < 0 || c < 0) continue;
    const time = rec.slice(0, a);
    const stream = rec.slice(a + 1, b) === 'stderr' ? 'stderr' : 'stdout';
    const tag = rec.slice(b + 1, c);
    const text = rec.slice(c + 1);
    const before = pending[stream];
    if (tag === 'P') {
      pending[stream] = { text: (before?.text ?? '') + text, time: before?.time ?? time };
      continue;
    }
    lines.push({ time: before?.time ?? time, stream, text: (before?.text ?? '') + text });
    pending[stream] = undefined;
  }
  return { lines, used };
}

/** Partial records left when the log ends (the container printed no final newline). */
function flushPending(pending: Pending): Line[] {
  const out: Line[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const p = pending[stream];
    if (p) out.push({ time: p.time, stream, text: p.text, partial: true });
    pending[stream] = undefined;
  }
  return out.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
}

function readFrom(path: string, offset: number): { text: string; end: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', end: offset };
  }
  try {
    const size = statSync(path).size;
    if (size < offset) offset = 0; // truncated by the size cap
    const buf = Buffer.alloc(size - offset);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return { text: buf.subarray(0, got).toString('utf8'), end: offset + got };
  } finally {
    closeSync(fd);
  }
}

export async function streamLogs(engine: Engine, names: string[], o: LogOptions): Promise<void> {
  const since = o.since ? parseTime(o.since) : undefined;
  const until = o.until ? parseTime(o.until) : undefined;
  const recs = await Promise.all(names.map((n) => engine.lookupContainer(n)));
  for (const rec of recs) {
    if (rec.config.logDriver !== 'k8s-file') {
      throw new TspodError('unsupported', `container ${rec.name} uses the "${rec.config.logDriver}" log driver: no logs to read`);
    }
  }
  const emit = (rec: (typeof recs)[number], l: Line): void => {
    const t = Date.parse(l.time);
    if (since !== undefined && t < since) return;
    if (until !== undefined && t > until) return;
    const who = o.prefix === 'name' ? `${rec.name} ` : o.prefix === 'id' ? `${rec.id.slice(0, 12)} ` : '';
    const prefix = who + (o.timestamps ? `${goTime(l.time)} ` : '');
    (l.stream === 'stderr' ? o.stderr : o.stdout).write(`${prefix}${l.text}${l.partial ? '' : '\n'}`);
  };
  const state = recs.map((rec) => ({ rec, path: engine.logPath(rec.id), offset: 0, pending: {} as Pending }));
  for (const s of state) {
    const { text } = readFrom(s.path, 0);
    const { lines, used } = parse(text, s.pending);
    s.offset = Buffer.byteLength(text.slice(0, used));
    // Without --follow, or once the container is gone, a trailing partial record is all there will be.
    const cur = o.follow ? await engine.lookupContainer(s.rec.id).catch(() => undefined) : undefined;
    if (!o.follow || !cur || !(cur.state.status === 'running' || cur.state.status === 'paused')) {
      // a trailing partial record goes where its time puts it (the sort is stable)
      lines.push(...flushPending(s.pending));
      lines.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
    }
    const shown = o.tail !== undefined && o.tail >= 0 ? lines.slice(Math.max(0, lines.length - o.tail)) : lines;
    for (const l of shown) emit(s.rec, l);
  }
  if (!o.follow) return;
  for (;;) {
    let running = false;
    for (const s of state) {
      const { text } = readFrom(s.path, s.offset);
      const { lines, used } = parse(text, s.pending);
      s.offset += Buffer.byteLength(text.slice(0, used));
      for (const l of lines) emit(s.rec, l);
      const cur = await engine.lookupContainer(s.rec.id).catch(() => undefined);
      if (cur && (cur.state.status === 'running' || cur.state.status === 'paused')) running = true;
    }
    if (!running) {
      // One last read: the monitor drains output before it records the exit.
      for (const s of state) {
        const { text } = readFrom(s.path, s.offset);
        const { lines } = parse(text, s.pending);
        for (const l of [...lines, ...flushPending(s.pending)]) emit(s.rec, l);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
