#!/usr/bin/env node
// Container run benchmark: `run --rm IMAGE true`, tspod next to podman in the same network mode
// (`--network none`, and both engines' default rootless network, slirp4netns), as the unprivileged
// test user, each engine with its own throwaway store holding the same image.
//
//   node bench/run.mjs [--runs 20] [--warmup 2] [--image alpine:3.15]
//                      [--source 127.0.0.1:5000/library/alpine:3.15] [--no-podman] [--no-slirp]
//                      [--scratch /var/tmp/tspod-bench-<uid>] [--quiet]
//
// Setup (untimed): `pull -q SOURCE` into each store, then `tag SOURCE IMAGE` so that the short name
// resolves locally (no network beyond the loopback registry). The target (tspod at most
// 0.75x podman, same image, same network mode) is checked for each mode.
// One sample = wall clock (spawn to exit) of one command; CPU time (user+sys of the process tree,
// from /usr/bin/time) is recorded too. Warm-up runs are discarded; in run i the cases run one after
// the other in an order rotated by i. After the runs, `ps -a` must be empty in each store (--rm).
// Results: a table on stdout, JSON in bench/results/run-<timestamp>.json (and run-latest.json).
import { randomBytes } from 'node:crypto';
import {
  shAsUser, shq, run, runTree, measure, median, stats, ratio, fmtMs, fmtRatio, verdict, printTable,
  writeResults, environment, parseArgs, which, USER_UID, BENCH_USER, userRun, engineCmd, removeStore, pullInto, loadavg,
} from './lib.mjs';

const TARGET_VS_PODMAN = 0.75;
const USAGE = 'usage: node bench/run.mjs [--runs N] [--warmup N] [--image NAME] [--source REF] [--no-podman] [--no-slirp]\n' +
  '                         [--scratch DIR] [--quiet]';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), {
    runs: 20,
    warmup: 2,
    image: 'alpine:3.15',
    source: '127.0.0.1:5000/library/alpine:3.15',
    podman: true,
    noPodman: false,
    slirp: true,
    noSlirp: false,
    scratch: `/var/tmp/tspod-bench-${USER_UID}`,
    quiet: false,
  });
} catch (e) {
  process.stderr.write(`bench/run: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.noPodman) opts.podman = false;
if (opts.noSlirp || !opts.podman) opts.slirp = false;
const log = opts.quiet ? () => {} : (s) => process.stderr.write(`[bench/run] ${s}\n`);

const extra = {}; // per case: allMs[], mainCpu[] of every sample, warm-ups included (trimmed later)
function runCase(name, engine, dir, args) {
  const argv = engineCmd(engine, dir, 'run', '--rm', ...args, opts.image, 'true');
  return {
    name, engine, dir, argv,
    async run() {
      const r = await runTree(argv);
      extra[name].allMs.push(r.allMs);
      extra[name].mainCpu.push(r.mainCpuMs);
      if (r.orphansLeft) log(`WARNING: ${name}: a descendant was still running 30 s after the command exited`);
      return r;
    },
  };
}

async function main() {
  for (const cmd of ['tspod']) if (!which(cmd)) throw new Error(`${cmd} not installed`);
  if (opts.podman && !which('podman')) {
    log('podman not installed: skipping it');
    opts.podman = opts.slirp = false;
  }
  const env = await environment();
  const base = `${opts.scratch}/run-${randomBytes(4).toString('hex')}`;
  const tDir = `${base}/tspod`;
  const pDir = `${base}/podman`;
  await run(shAsUser(`mkdir -p ${shq(opts.scratch)} && chmod 700 ${shq(opts.scratch)} && mkdir -p ${shq(tDir)} ${shq(pDir)}`));

  const cases = [runCase('tspod --network none', 'tspod', tDir, ['--network', 'none'])];
  if (opts.slirp) cases.push(runCase('tspod (slirp4netns)', 'tspod', tDir, []));
  if (opts.podman) cases.push(runCase('podman --network none', 'podman', pDir, ['--network', 'none']));
  if (opts.podman && opts.slirp) cases.push(runCase('podman (slirp4netns)', 'podman', pDir, []));
  const byName = Object.fromEntries(cases.map((c) => [c.name, { name: c.name, argv: c.argv, samples: [], cpu: [], warmup: [] }]));
  for (const c of cases) extra[c.name] = { allMs: [], mainCpu: [] };
  const loads = [loadavg()];
  try {
    log(`pulling ${opts.source} into the throwaway stores as ${opts.image}`);
    await pullInto('tspod', tDir, opts.source, opts.image);
    if (opts.podman) {
      await pullInto('podman', pDir, opts.source, opts.image);
      env.podmanStore = (await userRun(engineCmd('podman', pDir, 'info', '--format',
        '{{.Store.GraphDriverName}} {{json .Store.GraphOptions}} runtime={{.Host.OCIRuntime.Name}} network={{.Host.NetworkBackend}}'))).stdout.trim();
      log(`podman: ${env.podmanStore}`);
    }
    for (const c of cases) {
      const m = await measure(c, { runs: 0, warmup: opts.warmup, log: (s) => log(s) });
      byName[c.name].warmup.push(...m.warmup);
    }
    for (let i = 0; i < opts.runs; i++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(i + k) % cases.length];
        const m = await measure(c, { runs: 1, warmup: 0 });
        byName[c.name].samples.push(m.samples[0]);
        byName[c.name].cpu.push(...m.cpu);
        log(`${c.name} run ${i + 1}/${opts.runs}: ${fmtMs(m.samples[0])} (cpu ${fmtMs(m.cpu[0])})`);
      }
      if (i % 5 === 4) loads.push(loadavg());
    }
    // untimed check: --rm removed every container
    for (const [engine, dir] of [['tspod', tDir], ...(opts.podman ? [['podman', pDir]] : [])]) {
      const left = (await userRun(engineCmd(engine, dir, 'ps', '-aq'))).stdout.trim();
      if (left) log(`WARNING: ${engine}: containers left after run --rm: ${left.split('\n').length}`);
    }
  } finally {
    await removeStore('tspod', tDir, { log });
    if (opts.podman) await removeStore('podman', pDir, { log });
    await removeStore('tspod', base, { containers: false, log });
  }

  env.loadavgEnd = loadavg();
  const results = Object.values(byName).map((m) => {
    const allMs = extra[m.name].allMs.slice(opts.warmup);
    const mainCpu = extra[m.name].mainCpu.slice(opts.warmup);
    return {
      ...m, ...stats(m.samples), cpuStats: stats(m.cpu),
      allDone: { ...stats(allMs), samples: allMs }, waitedCpu: { ...stats(mainCpu), samples: mainCpu },
    };
  });
  const get = (n) => results.find((r) => r.name === n);
  const t = get('tspod --network none');
  const ts = get('tspod (slirp4netns)');
  const pn = get('podman --network none');
  const ps = get('podman (slirp4netns)');
  const ratios = {
    tspodVsPodmanNone: ratio(t.median, pn?.median),
    tspodVsPodmanSlirp: ratio(ts?.median, ps?.median),
    cpuTspodVsPodmanNone: ratio(t.cpuStats.median, pn?.cpuStats.median),
    cpuTspodVsPodmanSlirp: ratio(ts?.cpuStats.median, ps?.cpuStats.median),
  };

  process.stdout.write(`\ntspod run benchmark  ${env.date}  ${env.host}  ${env.cpu}  kernel ${env.kernel}\n`);
  process.stdout.write(`tspod ${env.tspod} (git ${env.git}${env.gitDirty ? '+dirty' : ''}), ${env.podman || 'podman: not run'} (${env.podmanStore ?? '-'}), node ${env.node}; ` +
    `\`run --rm ${opts.image} true\`, ${opts.runs} runs + ${opts.warmup} warm-up, medians; user ${BENCH_USER}\n` +
    `load average: ${loads.join(' | ')} | end ${env.loadavgEnd}\n\n`);
  printTable(
    ['case', 'median', 'mean', 'min', 'max', 'all exited', 'cpu (tree)'],
    results.map((r) => [
      r.name, fmtMs(r.median), fmtMs(r.mean), fmtMs(r.min), fmtMs(r.max), fmtMs(r.allDone.median), fmtMs(r.cpuStats.median),
    ]),
  );
  process.stdout.write('\n(median/mean/min/max: wall clock of the command; "all exited": until its last descendant, orphaned ones\n' +
    'included (conmon/monitor, runc, exit commands), had exited; "cpu (tree)": user+sys of all of them, medians)\n');
  if (pn) {
    process.stdout.write(`\ntspod / podman, --network none: ${verdict(ratios.tspodVsPodmanNone, TARGET_VS_PODMAN)}` +
      ` (cpu ${fmtRatio(ratios.cpuTspodVsPodmanNone)})\n`);
  }
  if (ps) {
    process.stdout.write(`tspod / podman, slirp4netns: ${verdict(ratios.tspodVsPodmanSlirp, TARGET_VS_PODMAN)}` +
      ` (cpu ${fmtRatio(ratios.cpuTspodVsPodmanSlirp)})\n`);
  }
  const file = writeResults('run', {
    benchmark: 'run',
    env: { ...env, loadavgSamples: loads },
    options: opts,
    targets: { tspodVsPodmanNone: TARGET_VS_PODMAN, tspodVsPodmanSlirp: TARGET_VS_PODMAN },
    ratios,
    results,
  });
  process.stdout.write(`results: ${file}\n`);
}

main().catch((e) => {
  process.stderr.write(`[bench/run] error: ${e.stack ?? e}\n`);
  process.exit(1);
});
