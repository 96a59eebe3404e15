// COPY and ADD: sources from the context (or another stage or image) are staged, hashed for the
// cache key, then copied into a created (never started) working container's mounted root through
// pinned directory fds, and the container's upper dir becomes the layer.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TspodError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import { helperPath } from '../engine/context.js';
import { withMountedRootfs } from '../engine/fs.js';
import { at, copyInto, fdView, openDirIn } from '../engine/fs-walk.js';
import { resolveInRoot } from '../runtime/confine.js';
import { resolveUser } from '../runtime/user.js';
import { buildError, type Instruction, type Stage } from './parser.js';
import { expandGlob, hasGlob, ignored, isArchive, notInContext, resolveSource, stageCopy, type Ignore } from './context.js';
import type { BuildOptions } from './builder.js';
import { adopt, baseImage, cacheGet, commitContainer, ctrOptions, ensureImage, nopText, sha, type State } from './stage.js';

/** Extracts an archive (any compression tspod-extract knows) into an empty dir. */
function extractFile(engine: Engine, path: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    const args = engine.ctx.rootless ? ['--rootless', dest] : [dest];
    const ex = spawn(helperPath(engine.ctx, 'tspod-extract'), args, { stdio: [fd, 'pipe', 'pipe'] });
    closeSync(fd);
    let out = '';
    ex.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    ex.on('error', reject);
    ex.on('close', (code) => {
      let res: { error?: string; entry?: string } = {};
      try {
        res = JSON.parse(out.trim().split('\n').pop() || '{}') as typeof res;
      } catch {
        /* below */
      }
      if (res.error) reject(new TspodError('hostile-content', `${path}${res.entry ? `: entry "${res.entry}"` : ''}: ${res.error}`));
      else if (code !== 0) reject(new TspodError('internal', `unpacking ${path}: tspod-extract failed (exit ${code})`));
      else resolve();
    });
  });
}

interface Item {
  /** Staged path. */
  path: string;
  /** A directory whose contents go into the destination (true), or one entry named `name`. */
  contents: boolean;
  name: string;
}

export async function copyStep(
  engine: Engine,
  o: BuildOptions,
  st: State,
  ins: Instruction,
  stages: Stage[],
  stageImages: Array<string | undefined>,
  ig: Ignore,
  sub: (s: string) => string,
  say: (s: string) => void,
): Promise<void> {
  const file = o.file;
  const c = st.config.config!;
  const words = ins.args.map((a) => (ins.json ? a : sub(a)));
  const dest = words.pop()!;
  const srcs = words;
  if (srcs.length === 0 && !ins.heredocs.length) throw buildError(file, ins.line, ins.cmd, 'requires at least two arguments');
  const chmod = ins.flags.chmod !== undefined ? parseInt(ins.flags.chmod, 8) : undefined;
  if (chmod !== undefined && (Number.isNaN(chmod) || chmod > 0o7777 || !/^[0-7]+$/.test(ins.flags.chmod!))) throw buildError(file, ins.line, ins.cmd, `invalid --chmod "${ins.flags.chmod}"`);
  const hash = createHash('sha256');
  const store = engine.store();
  const staging = store.newStaging('copy');
  const items: Item[] = [];
  let fromCtr: string | undefined;
  try {
    const stageFrom = async (root: string, useIgnore: boolean): Promise<void> => {
      let n = 0;
      for (const src of srcs) {
        const hd = /^<<-?["']?(\w+)["']?$/.exec(src);
        if (hd) {
          const h = ins.heredocs.find((x) => x.name === hd[1]);
          if (!h) throw buildError(file, ins.line, ins.cmd, `no heredoc named ${hd[1]}`);
          const p = join(staging, `h${n++}`);
          writeFileSync(p, h.body, { mode: chmod ?? 0o644 });
          hash.update(`heredoc\0${h.name}\0${h.body}`);
          items.push({ path: p, contents: false, name: h.name });
          continue;
        }
        if (/^[a-z]+:\/\//i.test(src)) throw new TspodError('unsupported', `${file}:${ins.line}: ${ins.cmd}: remote sources (${src}) are not supported`);
        const matches = hasGlob(src) ? expandGlob(root, src, useIgnore ? ig : undefined) : [resolveSource(root, src)];
        if (matches.length === 0) throw notInContext(file, ins.line, ins.cmd, src);
        for (const rel of matches) {
          let stt;
          try {
            stt = lstatSync(rel ? join(root, rel) : root);
          } catch {
            throw notInContext(file, ins.line, ins.cmd, src);
          }
          if (useIgnore && rel && ignored(ig, rel)) throw notInContext(file, ins.line, ins.cmd, src);
          const p = join(staging, `s${n++}`);
          if (ins.cmd === 'ADD' && stt.isFile() && useIgnore && isArchive(join(root, rel))) {
            mkdirSync(p, { mode: 0o755 });
            hash.update(`archive\0${rel}\0`);
            hash.update(readFileSync(join(root, rel)));
            await extractFile(engine, join(root, rel), p);
            items.push({ path: p, contents: true, name: '' });
            continue;
          }
          stageCopy(root, rel, p, { chmod, ig: useIgnore ? ig : undefined, hash });
          items.push({ path: p, contents: stt.isDirectory(), name: posix.basename(rel || '/') });
        }
      }
    };
    const from = ins.flags.from;
    if (from !== undefined) {
      const fname = sub(from);
      const idx = stages.findIndex((s) => s.name === fname.toLowerCase());
      let image: string | undefined;
      if (idx >= 0) image = stageImages[idx];
      else if (/^\d+$/.test(fname)) image = stageImages[Number(fname)];
      else image = await baseImage(engine, o, fname, [], [], ins);
      if (!image) throw buildError(file, ins.line, ins.cmd, `--from=${fname}: no such stage or image (a stage must come before its use)`);
      hash.update(`from\0${image}\0`);
      const rec = await engine.createContainer(ctrOptions(image, ['true'], [], o.cwd));
      fromCtr = rec.id;
      await withMountedRootfs(engine, rec, (merged) => stageFrom(merged, false));
    } else {
      await stageFrom(o.contextDir, true);
    }
    const key = sha(`${st.key}\n${ins.original}\n${JSON.stringify(ins.flags)}\n${hash.digest('hex')}\n${c.WorkingDir ?? ''}`);
    st.key = key;
    const hit = !o.noCache ? cacheGet(engine, key) : undefined;
    if (hit) {
      say(`--> Using cache ${hit}`);
      adopt(engine, st, hit);
      say(`--> ${hit.slice(0, 12)}`);
      return;
    }
    const image = await ensureImage(engine, st);
    const destPath = dest.startsWith('/') ? dest : posix.join((c.WorkingDir as string | undefined) || '/', dest);
    const destIsDir = dest.endsWith('/') || dest.endsWith('/.') || items.length > 1 || srcs.some(hasGlob);
    const rec = await engine.createContainer(ctrOptions(image, ['true'], [], o.cwd));
    try {
      await withMountedRootfs(engine, rec, async (merged) => {
        const rootFd = openSync(merged, fsc.O_RDONLY | fsc.O_DIRECTORY);
        try {
          const view = fdView(rootFd);
          let owner = { uid: 0, gid: 0 };
          if (ins.flags.chown) {
            const spec = sub(ins.flags.chown);
            const m = /^(\d+)(?::(\d+))?$/.exec(spec);
            if (m) owner = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
            else {
              const u = resolveUser(view, { user: spec });
              owner = { uid: u.uid, gid: u.gid };
            }
          }
          const resolved = resolveInRoot(view, posix.normalize(destPath));
          const existing = view.lstat(resolved);
          const intoDir = destIsDir || existing?.type === 'dir' || items.every((i) => i.contents);
          const dirPath = intoDir ? resolved : posix.dirname(resolved);
          const dirFd = mkdirsIn(rootFd, dirPath);
          try {
            const opts = { owner, overwrite: true, where: dirPath };
            for (const it of items) {
              if (it.contents) {
                for (const child of readdirSync(it.path)) copyInto(join(it.path, child), dirFd, child, opts);
              } else copyInto(it.path, dirFd, intoDir ? it.name : posix.basename(resolved), opts);
            }
          } finally {
            closeSync(dirFd);
          }
        } finally {
          closeSync(rootFd);
        }
      });
      const id = await commitContainer(engine, st, rec.id, key, nopText(`${ins.cmd} ${ins.raw}`));
      say(`--> ${id.slice(0, 12)}`);
    } finally {
      await engine.removeContainer(rec.id, { force: true, volumes: true }).catch(() => {});
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
    if (fromCtr) await engine.removeContainer(fromCtr, { force: true, volumes: true }).catch(() => {});
  }
}


/** Opens dir `p` (resolved, inside the root), creating missing components. */
function mkdirsIn(rootFd: number, p: string): number {
  let fd = openDirIn(rootFd, '/');
  for (const comp of p.split('/').filter(Boolean)) {
    let next: number;
    try {
      next = openSync(at(fd, comp), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        closeSync(fd);
        throw e;
      }
      mkdirSync(at(fd, comp), { mode: 0o755 });
      next = openSync(at(fd, comp), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    }
    closeSync(fd);
    fd = next;
  }
  return fd;
}
