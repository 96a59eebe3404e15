// The vfs fallback: a container's root filesystem is a full copy of its layers, applied bottom
// first, with overlay whiteouts (0/0 character devices) and opaque markers honoured.
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TspodError } from '../errors.js';

function sh(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, _o, stderr) =>
      err ? reject(new TspodError('storage', `${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve(),
    );
  });
}

/** Whiteouts and opaque directories of one layer, as paths relative to it. */
function scan(layer: string): { whiteouts: string[]; opaque: string[] } {
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isCharacterDevice() && st.rdev === 0) whiteouts.push(relative(layer, p));
      else if (st.isDirectory()) walk(p);
    }
  };
  walk(layer);
  return { whiteouts, opaque };
}

export async function applyLayersCopy(layersBottomFirst: string[], dest: string): Promise<void> {
  for (const layer of layersBottomFirst) {
    const { whiteouts } = scan(layer);
    for (const w of whiteouts) rmSync(join(dest, w), { recursive: true, force: true });
    // cp -a keeps owners, modes, links, xattrs; the whiteout devices it copies are removed after.
    await sh('cp', ['-a', '--', `${layer}/.`, dest]);
    for (const w of whiteouts) rmSync(join(dest, w), { force: true });
  }
}
