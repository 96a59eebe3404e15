#!/usr/bin/env node
// Monitor memory benchmark: resident memory of tspod's per-container monitor (tspod-monitor) vs
// podman's (conmon), with --count detached containers per engine, as the unprivileged test user.
//
//   node bench/rss.mjs [--count 10] [--settle 2] [--image alpine:3.15]
//                      [--source 127.0.0.1:5000/library/alpine:3.15] [--no-podman]
//                      [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Setup: pull SOURCE into a throwaway store per engine and tag it IMAGE; then --count times
//   tspod  --root R --runroot RR run -d IMAGE sleep 1000
//   podman --storage-driver overlay --root R --runroot RR run -d --network none IMAGE sleep 1000
// After --settle seconds, the monitor of every container is found with
// `inspect --format '{{.State.ConmonPid}}'` (only our containers: other test suites may run
// containers as the same user) and checked (/proc/PID/comm is tspod-monitor / conmon, its command
// line names the container). From /proc/PID/status: VmRSS, RssAnon, RssFile, RssShmem; from
// /proc/PID/smaps_rollup: Pss (shared pages divided among their users; the benchmark normally runs
// as root and can read it). Sums and per-container means are reported; the target is a mean VmRSS of
// at most 1 MiB per monitor. Clean-up: rm -af (podman: -t 0), then the stores are removed.
// Results: a table on stdout, JSON in bench/results/rss-<timestamp>.json (and rss-latest.json).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  shAsUser, shq, run, mean, printTable, writeResults, environment, parseArgs, which, USER_UID, BENCH_USER,
  userRun, engineCmd, removeStore, pullInto, loadavg, procMemory, fmtKiB, fmtRatio, ratio,
} from './lib.mjs';

const TARGET_KIB = 1024;
const MONITOR = { tspod: 'tspod-monitor', podman: 'conmon' };
const USAGE = 'usage: node bench/rss.mjs [--count N] [--settle SECONDS] [--image NAME] [--source REF] [--no-podman]\n' +
  '                         [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    count: 10,
    settle: 2,
    image: 'alpine:3.15',
    source: '127.0.0.1:5000/library/alpine:3.15',
    podman: true,
    noPodman: false,
    scratch: `/var/tmp/tspod-bench-${USER_UID}`,
    quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/rss: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/rss] ${s}\n`);
const FIELDS = ['vmRss', 'rssAnon', 'rssFile', 'rssShmem', 'pss'];

async function startContainers(engine, dir) {
  await pullInto(engine, dir, opts.source, opts.image);
  const ids = [];
  for (let i = 0; i < opts.count; i++) {
    const net = engine === 'podman' ? ['--network', 'none'] : [];
    const r = await userRun(engineCmd(engine, dir, 'run', '-d', ...net, opts.image, 'sleep', '1000'));
    ids.push(r.stdout.trim().split('\n').pop());
  }
  log(`${engine}: started ${ids.length} containers`);
  return ids;
}

async function monitorsOf(engine, dir, ids) {
  const out = [];
  for (const id of ids) {
    const r = await userRun(engineCmd(engine, dir, 'inspect', '--format', '{{.State.ConmonPid}} {{.State.Pid}} {{.State.Status}}', id));
    const [monPid, ctrPid, status] = r.stdout.trim().split(/\s+/);
    const mem = procMemory(monPid);
    if (!mem) throw new Error(`${engine} ${id.slice(0, 12)}: monitor pid ${monPid} is gone (status ${status})`);
    if (mem.comm !== MONITOR[engine]) log(`WARNING: ${engine} ${id.slice(0, 12)}: pid ${monPid} is "${mem.comm}", not ${MONITOR[engine]}`);
    if (!mem.cmdline.includes(id)) log(`WARNING: ${engine} ${id.slice(0, 12)}: pid ${monPid}'s command line does not name the container`);
    if (mem.uid !== USER_UID) log(`WARNING: ${engine}: pid ${monPid} runs as uid ${mem.uid}`);
    const ctr = procMemory(ctrPid);
    out.push({ id, status, containerPid: Number(ctrPid), containerParent: ctr?.ppid, ...mem, cmdline: mem.cmdline.slice(0, 300) });
  }
  return out;
}

function summarize(engine, monitors) {
  const sum = Object.fromEntries(FIELDS.map((f) => [f, monitors.reduce((a, m) => a + m[f], 0)]));
  const avg = Object.fromEntries(FIELDS.map((f) => [f, mean(monitors.map((m) => m[f]))]));
  return { engine, monitor: MONITOR[engine], n: monitors.length, sumKiB: sum, meanKiB: avg, monitors };
}

async function main() {
  if (!which('tspod')) throw new Error('tspod not installed');
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = false;
  }
  const env = await environment();
  const base = `${opts.scratch}/rss-${randomBytes(4).toString('hex')}`;
  const dirs = { tspod: `${base}/tspod`, ...(opts.podman ? { podman: `${base}/podman` } : {}) };
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${Object.values(dirs).map(shq).join(' ')}`));
  const results = [];
  try {
    const ids = {};
    for (const [engine, dir] of Object.entries(dirs)) ids[engine] = await startContainers(engine, dir);
    await sleep(opts.settle * 1000);
    for (const [engine, dir] of Object.entries(dirs)) results.push(summarize(engine, await monitorsOf(engine, dir, ids[engine])));
  } finally {
    for (const [engine, dir] of Object.entries(dirs)) await removeStore(engine, dir, { log });
    await removeStore('tspod', base, { containers: false, log });
  }

  env.loadavgEnd = loadavg();
  const t = results.find((r) => r.engine === 'tspod');
  const p = results.find((r) => r.engine === 'podman');
  process.stdout.write(`\ntspod monitor memory benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'}; ` +
    `${opts.count} x \`run -d ${opts.image} sleep 1000\` per engine, read ${opts.settle} s after the last start; user ${BENCH_USER}\n` +
    `load average: ${env.loadavg.split(' ').slice(0, 3).join(' ')} | end ${env.loadavgEnd}\n\n`);
  printTable(
    ['monitor', 'n', 'VmRSS sum', 'VmRSS mean', 'RssAnon mean', 'RssFile mean', 'Pss mean', 'VmRSS min..max'],
    results.map((r) => [
      r.monitor, String(r.n), fmtKiB(r.sumKiB.vmRss), fmtKiB(r.meanKiB.vmRss), fmtKiB(r.meanKiB.rssAnon),
      fmtKiB(r.meanKiB.rssFile), fmtKiB(r.meanKiB.pss),
      `${fmtKiB(Math.min(...r.monitors.map((m) => m.vmRss)))}..${fmtKiB(Math.max(...r.monitors.map((m) => m.vmRss)))}`,
    ]),
  );
  const pass = t.meanKiB.vmRss <= TARGET_KIB;
  process.stdout.write(`\ntspod-monitor mean VmRSS ${fmtKiB(t.meanKiB.vmRss)}: ${pass ? 'PASS' : 'MISS'} (<= ${fmtKiB(TARGET_KIB)}); ` +
    `RssAnon ${fmtKiB(t.meanKiB.rssAnon)}, Pss ${fmtKiB(t.meanKiB.pss)}\n`);
  if (p) {
    process.stdout.write(`tspod-monitor / conmon: VmRSS ${fmtRatio(ratio(t.meanKiB.vmRss, p.meanKiB.vmRss))}, ` +
      `RssAnon ${fmtRatio(ratio(t.meanKiB.rssAnon, p.meanKiB.rssAnon))}, Pss ${fmtRatio(ratio(t.meanKiB.pss, p.meanKiB.pss))}\n`);
  }
  const file = writeResults('rss', {
    benchmark: 'rss',
    env,
    options: opts,
    targets: { monitorVmRssKiB: TARGET_KIB },
    pass,
    ratios: p ? Object.fromEntries(FIELDS.map((f) => [f, ratio(t.meanKiB[f], p.meanKiB[f])])) : {},
    results,
  });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/rss] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
