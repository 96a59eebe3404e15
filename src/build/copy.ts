// COPY and ADD: sources from the context (or another stage or image) are staged, hashed for the
// cache key, then copied into a created (never started) working container's mounted root through
// pinned directory fds, and the container's upper dir becomes the layer.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TspodError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import { helperPath } from '../engine/context.js';
import { DEFAULT_USER_AGENT, discard, send } from '../image/http.js';
import { withMountedRootfs } from '../engine/fs.js';
import { at, copyInto, fdView, openDirIn } from '../engine/fs-walk.js';
import { resolveInRoot } from '../runtime/confine.js';
import { resolveUser } from '../runtime/user.js';
import { buildError, type Instruction, type Stage } from './parser.js';
import { expandGlob, hasGlob, ignored, isArchive, notInContext, resolveSource, stageCopy, type Ignore } from './context.js';
import type { BuildOptions } from './builder.js';
import { baseImage, commitContainer, ctrOptions, ensureImage, nopText, sha, useCache, type State } from './stage.js';

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

/** ADD's limit on a remote file. */
export const MAX_REMOTE_BYTES = 1 << 30;

/**
 * ADD of a URL: GET it (redirects followed, retried like registry requests), at most
 * MAX_REMOTE_BYTES, into the file `dest` (never unpacked, as docker does), with its mtime from
 * Last-Modified. Resolves its sha256 digest and the file name the URL's path gives.
 */
async function fetchRemote(src: string, dest: string, mode: number): Promise<{ digest: string; name: string; mtime?: string }> {
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    throw new TspodError('invalid-argument', `invalid URL "${src}"`);
  }
  const name = posix.basename(decodeURIComponent(url.pathname));
  if (!name || name === '/' || name === '.' || name === '..') throw new TspodError('invalid-argument', `cannot determine a file name from the URL "${src}"`);
  const res = await send({ method: 'GET', url, headers: { 'User-Agent': DEFAULT_USER_AGENT } });
  if (res.status !== 200) {
    discard(res);
    throw new TspodError('network', `fetching ${src}: HTTP ${res.status}`);
  }
  const cl = res.headers['content-length'];
  if (cl !== undefined && Number(cl) > MAX_REMOTE_BYTES) {
    res.body.destroy();
    throw new TspodError('hostile-content', `fetching ${src}: ${cl} bytes, more than the ${MAX_REMOTE_BYTES} allowed`);
  }
  const h = createHash('sha256');
  const fd = openSync(dest, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_REMOTE_BYTES) {
        res.body.destroy();
        throw new TspodError('hostile-content', `fetching ${src}: more than the ${MAX_REMOTE_BYTES} bytes allowed`);
      }
      h.update(chunk);
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
    }
  } catch (e) {
    if (e instanceof TspodError) throw e;
    throw new TspodError('network', `fetching ${src}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
  if (cl !== undefined && Number(cl) !== total) throw new TspodError('network', `fetching ${src}: got ${total} of ${cl} bytes`);
  chmodSync(dest, mode);
  const lm = res.headers['last-modified'];
  const t = lm ? Date.parse(lm) : NaN;
  if (Number.isFinite(t)) utimesSync(dest, t / 1000, t / 1000);
  return { digest: `sha256:${h.digest('hex')}`, name, mtime: Number.isFinite(t) ? new Date(t).toISOString() : undefined };
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
  // podman 4.3's flags and words: anything else (--link, --parents, --checksum...) is refused
  // rather than ignored
  const allowed = ins.cmd === 'COPY' ? ['chmod', 'chown', 'from'] : ['chmod', 'chown'];
  const unknown = ins.flagList.find(([k]) => !allowed.includes(k));
  if (unknown) {
    throw new TspodError(
      'invalid-argument',
      `${file}:${ins.line}: building at STEP "${ins.original}": ${ins.cmd === 'COPY' ? 'COPY only supports the --chmod=<permissions> --chown=<uid:gid> and the --from=<image|stage> flags' : 'ADD only supports the --chmod=<permissions> and the --chown=<uid:gid> flag'}`,
    );
  }
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
  const from = ins.flags.from;
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
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
          if (ins.cmd !== 'ADD' || !/^https?:\/\//i.test(src) || from !== undefined) {
            throw new TspodError('unsupported', `${file}:${ins.line}: ${ins.cmd}: remote sources (${src}) are only supported by ADD, over http or https`);
          }
          const p = join(staging, `u${n++}`);
          const got = await fetchRemote(src, p, chmod ?? 0o600);
          hash.update(`url\0${src}\0${got.digest}\0${got.mtime ?? ''}\0`);
          items.push({ path: p, contents: false, name: got.name });
          continue;
        }
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
    if (useCache(engine, st, key, o.noCache, say)) return;
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
