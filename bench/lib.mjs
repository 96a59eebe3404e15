// Shared helpers for tspod's benchmarks (plain ESM so that Node 20 runs it without a build step).
//
//   import { asUser, timeCmd, measure, median, ratio, printTable, writeResults } from './lib.mjs';
//
// Benchmarks run the *installed* tspod (and podman) as the unprivileged test user, the way users and
// the e2e tests do. When the benchmark itself already runs as that user, commands run directly;
// when it runs as root they go through runuser(1) with the user's HOME and XDG_RUNTIME_DIR.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostname, cpus, release, totalmem } from 'node:os';
import { createServer, connect } from 'node:net';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = dirname(BENCH_DIR);
export const RESULTS_DIR = join(BENCH_DIR, 'results');

// ------------------------------------------------------------------------------------------------
// command line

/** Tiny `--name value` / `--flag` parser; `spec` maps names to defaults (booleans are flags). */
export function parseArgs(argv, spec) {
  const out = { ...spec, _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    let [name, value] = a.slice(2).split(/=(.*)/s, 2);
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in spec)) throw new Error(`unknown option --${name}`);
    if (typeof spec[key] === 'boolean') {
      out[key] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new Error(`--${name} needs a value`);
      value = argv[++i];
    }
    out[key] = typeof spec[key] === 'number' ? Number(value) : value;
    if (typeof spec[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`--${name}: not a number: ${value}`);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// the test user

export const BENCH_USER = process.env.BENCH_USER ?? 'tspodtest';

/**
 * The tspod binary the benchmarks run: `TSPOD_BIN` (e.g. an install under another prefix,
 * `TSPOD_PREFIX=/opt/x scripts/install.sh` → `/opt/x/bin/tspod`), else `tspod` from PATH. Every
 * argv whose first word is `tspod` goes through asUser, which substitutes it.
 */
export const TSPOD_BIN = process.env.TSPOD_BIN ?? 'tspod';

function idOf(flag, user) {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
}

export const USER_UID = idOf('-u', BENCH_USER);
export const USER_GID = idOf('-g', BENCH_USER);
export const USER_HOME = process.env.BENCH_USER_HOME ?? (process.getuid() === USER_UID ? process.env.HOME : `/home/${BENCH_USER}`);
export const USER_RUNTIME_DIR = `/run/user/${USER_UID}`;
const USER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** argv that runs `argv` as the test user (unchanged when we already are that user). */
export function asUser(argv, env = {}) {
  if (argv[0] === 'tspod') argv = [TSPOD_BIN, ...argv.slice(1)];
  const extra = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  if (process.getuid() === USER_UID) return extra.length ? ['env', ...extra, ...argv] : argv;
  if (process.getuid() !== 0) throw new Error(`run the benchmarks as root or as ${BENCH_USER}`);
  return [
    'runuser', '-u', BENCH_USER, '--',
    'env', `HOME=${USER_HOME}`, `XDG_RUNTIME_DIR=${USER_RUNTIME_DIR}`, `PATH=${USER_PATH}`, `USER=${BENCH_USER}`, `LOGNAME=${BENCH_USER}`,
    ...extra, ...argv,
  ];
}

/** A shell script run as the test user. */
export function shAsUser(script, env) {
  return asUser(['sh', '-c', script], env);
}

/** Single-quotes a string for sh. */
export function shq(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// ------------------------------------------------------------------------------------------------
// running and timing commands

/**
 * Runs argv; resolves { code, signal, stdout, stderr, ms } (ms = wall clock from spawn to exit,
 * measured with hrtime). Rejects on a non-zero exit unless `allowFail`. Output is captured (up to
 * `maxOutput` bytes each) unless `inherit`.
 */
export function run(argv, { allowFail = false, inherit = false, maxOutput = 1 << 20, env, cwd = '/' } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
      cwd,
    });
    let stdout = '';
    let stderr = '';
    if (!inherit) {
      child.stdout.setEncoding('utf8').on('data', (d) => stdout.length < maxOutput && (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => stderr.length < maxOutput && (stderr += d));
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const res = { code, signal, stdout, stderr, ms };
      if ((code !== 0 || signal) && !allowFail) {
        const err = new Error(`${argv.join(' ')}: exit ${code ?? signal}\n${stderr.trim().slice(-2000)}`);
        err.result = res;
        reject(err);
      } else resolve(res);
    });
  });
}

const TIME_MARK = '__bench_time__';

/**
 * Like run(), but under /usr/bin/time: the result also has cpuMs = user + system CPU time of the
 * whole waited-for process tree (less sensitive to other load on the machine than wall clock),
 * userMs, sysMs and maxRssKiB. ms stays the wall clock measured here.
 */
export async function runTimed(argv, opts = {}) {
  const res = await run(['/usr/bin/time', '-f', `${TIME_MARK} %e %U %S %M`, ...argv], { ...opts, allowFail: true });
  const lines = res.stderr.split('\n');
  const i = lines.findLastIndex((l) => l.startsWith(TIME_MARK));
  if (i >= 0) {
    const [, , user, sys, rss] = lines[i].split(' ');
    res.userMs = Number(user) * 1000;
    res.sysMs = Number(sys) * 1000;
    res.cpuMs = res.userMs + res.sysMs;
    res.maxRssKiB = Number(rss);
    lines.splice(i, 1);
    res.stderr = lines.join('\n');
  }
  // /usr/bin/time reports "Command exited with non-zero status N" on stderr, and exits with N
  if ((res.code !== 0 || res.signal) && !opts.allowFail) {
    const err = new Error(`${argv.join(' ')}: exit ${res.code ?? res.signal}\n${res.stderr.trim().slice(-2000)}`);
    err.result = res;
    throw err;
  }
  return res;
}

/** Wall-clock milliseconds of one run of argv (must exit 0). */
export async function timeCmd(argv, opts) {
  return (await run(argv, opts)).ms;
}

/**
 * Repeated measurement of one case.
 *   case: { name, prepare?(i) -> ctx, run(ctx, i) -> ms | {ms, cpuMs} | undefined, cleanup?(ctx, i) }
 * prepare and cleanup are not timed. `run` returns the milliseconds it measured itself (optionally
 * with the CPU milliseconds, see runTimed), or undefined to have the whole run() call timed.
 * `warmup` runs are done first and discarded.
 * Returns { name, samples: [ms...], cpu: [ms...], warmup: [ms...] } (cpu only when run() gave it).
 */
export async function measure(c, { runs = 5, warmup = 1, log = () => {} } = {}) {
  const out = { name: c.name, samples: [], cpu: [], warmup: [] };
  for (let i = 0; i < warmup + runs; i++) {
    const { ms, cpuMs } = await measureOnce(c, i);
    const isWarm = i < warmup;
    if (isWarm) out.warmup.push(ms);
    else {
      out.samples.push(ms);
      if (cpuMs !== undefined) out.cpu.push(cpuMs);
    }
    log(`${c.name} ${isWarm ? 'warm-up' : `run ${i - warmup + 1}/${runs}`}: ${fmtMs(ms)}${cpuMs !== undefined ? ` (cpu ${fmtMs(cpuMs)})` : ''}`);
  }
  return out;
}

/** One prepare/run/cleanup cycle; returns { ms, cpuMs? }. */
export async function measureOnce(c, i = 0) {
  const ctx = c.prepare ? await c.prepare(i) : undefined;
  try {
    const t0 = process.hrtime.bigint();
    const self = await c.run(ctx, i);
    if (typeof self === 'number') return { ms: self };
    if (self && typeof self.ms === 'number') return { ms: self.ms, cpuMs: self.cpuMs };
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  } finally {
    if (c.cleanup) await c.cleanup(ctx, i);
  }
}

// ------------------------------------------------------------------------------------------------
// statistics and printing

export function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export function stdev(xs) {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export function stats(xs) {
  return { n: xs.length, median: median(xs), mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs), stdev: stdev(xs) };
}

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

export function fmtRatio(r) {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : '-';
}

/** "0.62x PASS (<= 0.70x)" */
export function verdict(r, target) {
  if (!Number.isFinite(r)) return 'n/a';
  return `${fmtRatio(r)} ${r <= target ? 'PASS' : 'MISS'} (<= ${target.toFixed(2)}x)`;
}

/** Prints rows (arrays of strings) as an aligned table under `head`. */
export function printTable(head, rows, write = (s) => process.stdout.write(s)) {
  const all = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ') + '\n';
  write(line(all[0]));
  write(line(w.map((n) => '-'.repeat(n))));
  for (const r of all.slice(1)) write(line(r));
}

// ------------------------------------------------------------------------------------------------
// environment and results

async function tryOut(argv) {
  try {
    return (await run(argv, { allowFail: true })).stdout.trim();
  } catch {
    return '';
  }
}

/** What was measured on: host, kernel, cpu, versions, git revision. */
export async function environment() {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    host: hostname(),
    kernel: release(),
    cpu: `${cpu.length} x ${cpu[0]?.model ?? '?'}`,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    tspod: (await tryOut([TSPOD_BIN, 'version', '--format', '{{.Client.Version}}'])) || (await tryOut([TSPOD_BIN, '--version'])),
    tspodBin: TSPOD_BIN,
    podman: await tryOut(['podman', '--version']),
    git: await tryOut(['git', '-C', REPO_DIR, 'rev-parse', '--short', 'HEAD']),
    gitDirty: (await tryOut(['git', '-C', REPO_DIR, 'status', '--porcelain', '--untracked-files=no'])) !== '',
    loadavg: await tryOut(['cat', '/proc/loadavg']),
  };
}

/** Writes bench/results/<name>-<timestamp>.json and <name>-latest.json; returns the path. */
export function writeResults(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  const body = JSON.stringify(data, null, 2) + '\n';
  writeFileSync(file, body);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), body);
  return file;
}

export function which(cmd) {
  if (cmd === 'tspod' && TSPOD_BIN.includes('/')) return existsSync(TSPOD_BIN) ? TSPOD_BIN : null;
  if (cmd === 'tspod') cmd = TSPOD_BIN;
  for (const d of USER_PATH.split(':')) if (existsSync(join(d, cmd))) return join(d, cmd);
  return null;
}

// ------------------------------------------------------------------------------------------------
// helpers for the container benchmarks (startup, run, ps, rss)

/** Runs argv as the test user (see asUser); same options and result as run(). */
export function userRun(argv, opts) {
  return run(asUser(argv), opts);
}

/** Global options that point an engine ('tspod' or 'podman') at a throwaway store under `dir`. */
export function storeArgs(engine, dir) {
  const g = ['--root', `${dir}/root`, '--runroot', `${dir}/run`];
  return engine === 'podman' ? ['--storage-driver', 'overlay', ...g] : g;
}

/** The program run for `engine`: TSPOD_BIN (e.g. an install under another prefix) for tspod. */
export function engineBin(engine) {
  return engine === 'tspod' ? TSPOD_BIN : engine;
}

/** argv of `engine` with a throwaway store under `dir`, then `args`. */
export function engineCmd(engine, dir, ...args) {
  return [engineBin(engine), ...storeArgs(engine, dir), ...args];
}

/**
 * Removes a throwaway store: `ENGINE rm -af` (unless `containers` is false), then
 * `ENGINE unshare rm -rf dir` (files belong to subordinate ids). Errors are reported, not thrown.
 */
export async function removeStore(engine, dir, { containers = true, log = () => {} } = {}) {
  if (!existsSync(dir)) return;
  if (containers && existsSync(`${dir}/root`)) {
    const extra = engine === 'podman' ? ['-t', '0'] : [];
    const r = await userRun(engineCmd(engine, dir, 'rm', '-af', ...extra), { allowFail: true });
    if (r.code !== 0) log(`${engine} rm -af in ${dir}: exit ${r.code}: ${r.stderr.trim().slice(-500)}`);
  }
  // podman may still hold root/overlay mounted in its namespace for a moment (its exit commands
  // run after rm -af returned): retry a few times
  for (let attempt = 1; ; attempt++) {
    const r = await userRun([engineBin(engine), 'unshare', 'rm', '-rf', dir], { allowFail: true });
    if (r.code === 0) return;
    if (attempt >= 5) {
      log(`${engine} unshare rm -rf ${dir}: exit ${r.code}: ${r.stderr.trim().slice(-500)}`);
      return;
    }
    await new Promise((res) => setTimeout(res, 1000 * attempt));
  }
}

/**
 * Pulls `source` into the throwaway store of `engine` under `dir` and, when `name` differs, tags it
 * as `name` too (so a short name such as alpine:3.15 resolves locally, without any network).
 */
export async function pullInto(engine, dir, source, name) {
  await userRun(engineCmd(engine, dir, 'pull', '-q', source));
  if (name && name !== source) await userRun(engineCmd(engine, dir, 'tag', source, name));
}

/** The three load averages, e.g. "1.82 1.65 1.95". */
export function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

/** Runs fn(item, index) over items with at most `concurrency` in flight; resolves the results in order. */
export async function mapLimit(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/**
 * Runs hyperfine (no intermediate shell: -N) as the test user on `commands` ({ name, cmd } with cmd
 * a shell-free command line) and returns its parsed JSON export: results[i] has command, mean,
 * median, min, max, user, system (seconds) and times[] (seconds).
 */
export async function hyperfine(commands, { runs = 30, warmup = 3, jsonPath, extra = [] } = {}) {
  if (!jsonPath) throw new Error('hyperfine: jsonPath is required');
  const argv = ['hyperfine', '-N', '--style', 'none', '--warmup', String(warmup), '--runs', String(runs),
    '--export-json', jsonPath, ...extra];
  for (const c of commands) argv.push('-n', c.name, c.cmd);
  await userRun(argv);
  return JSON.parse(readFileSync(jsonPath, 'utf8'));
}

/**
 * Memory of one process from /proc (KiB): vmRss, rssAnon, rssFile, rssShmem (status), pss (smaps_rollup,
 * when readable), plus comm, ppid and cmdline. Null when the process is gone.
 */
export function procMemory(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name, text = status) => {
    const m = text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  let pss = NaN;
  try {
    pss = field('Pss', readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {}
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {}
  return {
    pid: Number(pid),
    comm: (status.match(/^Name:\s+(.*)$/m) ?? [])[1] ?? '',
    ppid: field('PPid'),
    uid: field('Uid'),
    vmRss: field('VmRSS'),
    rssAnon: field('RssAnon'),
    rssFile: field('RssFile'),
    rssShmem: field('RssShmem'),
    pss,
    cmdline,
  };
}

/** "12.3 MiB" / "845 KiB" from KiB. */
export function fmtKiB(kib) {
  if (!Number.isFinite(kib)) return '-';
  return kib >= 1024 ? `${(kib / 1024).toFixed(2)} MiB` : `${kib.toFixed(0)} KiB`;
}

const TREE_MARK = '__bench_tree__';
// Subreaper wrapper (python3 from Debian; stdlib only): runs argv, times it, then also reaps every
// descendant that was orphaned (daemonized monitors, conmon, runc, exit commands) so that their CPU
// time is counted too; gives up waiting after BENCH_TREE_WAIT seconds.
const TREE_PY = String.raw`
import ctypes, os, sys, time, resource
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    except Exception as e:
        sys.stderr.write('exec %s: %s\n' % (sys.argv[1], e))
        os._exit(127)
_, st = os.waitpid(pid, 0)
t1 = time.perf_counter()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
deadline = time.time() + float(os.environ.get('BENCH_TREE_WAIT', '30'))
left = 0
while True:
    try:
        p, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if p == 0:
        if time.time() > deadline:
            left = 1
            break
        time.sleep(0.002)
t2 = time.perf_counter()
r2 = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write('${TREE_MARK} %f %f %f %f %f %f %d %d\n' % ((t1 - t0) * 1e3, (t2 - t0) * 1e3, r1.ru_utime * 1e3, r1.ru_stime * 1e3, r2.ru_utime * 1e3, r2.ru_stime * 1e3, left, r2.ru_maxrss))
code = os.waitstatus_to_exitcode(st)
sys.exit(code if code >= 0 else 128 - code)
`;

/**
 * Runs argv as the test user under a child-subreaper wrapper. Resolves like run(), plus:
 *   ms        wall clock of argv itself (fork to exit, measured inside the wrapper: no runuser cost)
 *   allMs     until the last orphaned descendant exited as well (e.g. podman's conmon + cleanup)
 *   cpuMs     user+sys CPU of argv and *all* its descendants, orphaned ones included
 *   mainCpuMs the same for the descendants argv itself waited for (what /usr/bin/time reports)
 *   orphansLeft true when some descendant still ran after `wait` seconds (its CPU is then missing)
 */
export async function runTree(argv, { wait = 30, ...opts } = {}) {
  const res = await run(asUser(['/usr/bin/python3', '-c', TREE_PY, ...argv], { BENCH_TREE_WAIT: String(wait) }), { ...opts, allowFail: true });
  const lines = res.stderr.split('\n');
  const i = lines.findLastIndex((l) => l.startsWith(TREE_MARK));
  if (i >= 0) {
    const [, ms, allMs, u1, s1, u2, s2, left] = lines[i].split(' ').map(Number);
    res.outerMs = res.ms;
    Object.assign(res, { ms, allMs, mainCpuMs: u1 + s1, userMs: u2, sysMs: s2, cpuMs: u2 + s2, orphansLeft: left === 1 });
    lines.splice(i, 1);
    res.stderr = lines.join('\n');
  }
  if ((res.code !== 0 || res.signal) && !opts.allowFail) {
    const err = new Error(`${argv.join(' ')}: exit ${res.code ?? res.signal}\n${res.stderr.trim().slice(-2000)}`);
    err.result = res;
    throw err;
  }
  return res;
}

// ------------------------------------------------------------------------------------------------
// helpers for the network benchmark (network.mjs): loopback TCP only

/** A TCP port that was free on `host` a moment ago (the kernel's choice; released before returning). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Connects to host:port and reads until EOF, discarding the data. Resolves { ms, bytes }: ms from
 * the connect call to EOF (hrtime), bytes received.
 */
export function tcpReceive(host, port) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let bytes = 0;
    const s = connect({ host, port });
    s.on('data', (b) => { bytes += b.length; });
    s.on('error', reject);
    s.on('end', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      s.destroy();
      resolve({ ms, bytes });
    });
  });
}

/**
 * A TCP server on host (port chosen by the kernel) that discards what it receives. Resolves
 * { port, next(), close() }; next() resolves { ms, bytes } of the next connection: ms from accept
 * to the peer's EOF (hrtime), bytes received.
 */
export function tcpReceiveServer(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const waiters = [];
    const srv = createServer((s) => {
      const t0 = process.hrtime.bigint();
      let bytes = 0;
      const w = waiters.shift();
      s.on('data', (b) => { bytes += b.length; });
      s.on('error', (e) => w?.reject(e));
      s.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        s.end();
        w?.resolve({ ms, bytes });
      });
    });
    srv.on('error', reject);
    srv.listen(0, host, () => resolve({
      port: srv.address().port,
      next: () => new Promise((res, rej) => waiters.push({ resolve: res, reject: rej })),
      close: () => srv.close(),
    }));
  });
}
