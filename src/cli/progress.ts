// Renders pull progress: Podman's plain lines when stderr is not a terminal, live per-layer bars
// when it is, nothing with -q.
import type { Writable } from 'node:stream';
import type { PullEvent } from '../engine/index.js';

function short(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

export function pullRenderer(err: Writable & { isTTY?: boolean; columns?: number }, quiet: boolean): (e: PullEvent) => void {
  if (quiet) return () => {};
  if (!err.isTTY) {
    return (e) => {
      switch (e.type) {
        case 'resolving':
          err.write(`${e.description}\n`);
          break;
        case 'trying':
          err.write(`Trying to pull ${e.name}...\n`);
          break;
        case 'signatures':
          err.write('Getting image source signatures\n');
          break;
        case 'blob':
          if (e.state === 'start') err.write(`Copying blob ${e.digest}\n`);
          else if (e.state === 'skipped') err.write(`Copying blob ${e.digest} skipped: already exists\n`);
          break;
        case 'config':
          err.write(`Copying config ${e.digest} done\n`);
          break;
        case 'manifest':
          err.write('Writing manifest to image destination\nStoring signatures\n');
          break;
        default:
          break;
      }
    };
  }
  // Terminal: one line per blob, redrawn in place.
  const order: string[] = [];
  const state = new Map<string, string>();
  let drawn = 0;
  let last = 0;
  const width = (): number => Math.max(20, Math.min(40, (err.columns ?? 80) - 50));
  const bar = (done: number, total: number): string => {
    const w = width();
    const fill = total > 0 ? Math.min(w, Math.round((done / total) * w)) : 0;
    return `[${'='.repeat(Math.max(0, fill - 1))}${fill > 0 ? '>' : ''}${'-'.repeat(w - fill)}] ${bytes(done)} / ${bytes(total)}`;
  };
  const redraw = (force = false): void => {
    const now = Date.now();
    if (!force && now - last < 80) return;
    last = now;
    let s = drawn ? `\x1b[${drawn}A` : '';
    for (const d of order) s += `\x1b[2KCopying blob ${short(d)} ${state.get(d)}\n`;
    drawn = order.length;
    err.write(s);
  };
  return (e) => {
    switch (e.type) {
      case 'trying':
        err.write(`Trying to pull ${e.name}...\n`);
        break;
      case 'signatures':
        err.write('Getting image source signatures\n');
        break;
      case 'blob':
        if (!state.has(e.digest)) order.push(e.digest);
        state.set(e.digest, e.state === 'skipped' ? 'skipped: already exists' : e.state === 'done' ? 'done' : bar(0, e.size));
        redraw(true);
        break;
      case 'progress':
        if (state.get(e.digest) !== 'done') state.set(e.digest, bar(e.done, e.total));
        redraw();
        break;
      case 'config':
        redraw(true);
        drawn = 0;
        err.write(`Copying config ${short(e.digest)} done\n`);
        break;
      case 'manifest':
        err.write('Writing manifest to image destination\nStoring signatures\n');
        break;
      default:
        break;
    }
  };
}
